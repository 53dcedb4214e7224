import type { CoordinatorPolicy } from '#domain/events.ts';
import type { SegmentLocation } from '#domain/segment.ts';
import { DEFAULT_COORDINATOR_POLICY, coordinatorPolicyOf } from '#domain/coordinator.ts';
import type { StorePorts } from '#store/ports.ts';
import { OperatorRequestRefused, appendDecided } from '#app/control.ts';

/*
 * An operator's say in a coordinator failover: the approval an activation waits for (the
 * same `recoverseg approve` and dashboard button as a rebalance), and the cluster's policy.
 */

/**
 * Approves the activation the failover in progress waits for: CoordinatorFailoverApproved,
 * which DecideActivation finds at its next check. The approval is for the fence it was asked
 * with; if that fence becomes impossible, the run asks again, naming the new risk. Refused
 * (nothing written) when no failover waits for one.
 */
export async function approveActivation(
  deps: { stores: StorePorts; now: () => Date },
  clusterId: string,
  request: { by: string; incidentId?: string },
) {
  let risk = '';
  let incidentId = '';
  const { seq } = await appendDecided(
    deps.stores,
    clusterId,
    {
      key: (s) =>
        `approve-activation/${s.coordinator?.failover?.incidentId}@${s.coordinator?.failover?.awaitingApproval?.since}`,
      actor: request.by,
      now: deps.now,
    },
    (state) => {
      const failover = state.coordinator?.failover;
      if (!failover)
        throw new OperatorRequestRefused(
          `cluster ${clusterId} has no coordinator failover in progress; nothing to approve`,
        );
      incidentId = failover.incidentId;
      if (request.incidentId !== undefined && request.incidentId !== incidentId)
        throw new OperatorRequestRefused(
          `cluster ${clusterId}: incident ${request.incidentId} is not the coordinator failover in progress (incident ${incidentId}); name that one or none`,
        );
      if (!failover.awaitingApproval)
        throw new OperatorRequestRefused(
          `cluster ${clusterId}: the coordinator failover ${incidentId} is not waiting for an approval (policy ${coordinatorPolicyOf(state).policy}); nothing to approve`,
        );
      if (failover.approved)
        throw new OperatorRequestRefused(
          `cluster ${clusterId}: the activation of incident ${incidentId} was already approved by ${failover.approved.by} at ${failover.approved.at}`,
        );
      risk = failover.awaitingApproval.risk;
      return [{ type: 'CoordinatorFailoverApproved', data: { incidentId, by: request.by } }];
    },
  );
  return {
    clusterId,
    incidentId,
    approvedBy: request.by,
    seq,
    message: `approved: the run fences and activates at its next check (${risk})`,
  };
}

/** Sets the coordinator failover policy and the observation bound (CoordinatorPolicySet). */
export async function setCoordinatorPolicy(
  deps: { stores: StorePorts; now: () => Date },
  clusterId: string,
  request: {
    policy: CoordinatorPolicy;
    maxObservationAgeSeconds?: number;
    newStandby?: SegmentLocation;
    by: string;
  },
) {
  const wanted = {
    policy: request.policy,
    maxObservationAgeSeconds:
      request.maxObservationAgeSeconds ?? DEFAULT_COORDINATOR_POLICY.maxObservationAgeSeconds,
    ...(request.newStandby ? { newStandby: request.newStandby } : {}),
  };
  let changed = false;
  const { seq } = await appendDecided(
    deps.stores,
    clusterId,
    {
      key: (s) => `coordinator-policy/${JSON.stringify(wanted)}@${s.seq}`,
      actor: request.by,
      now: deps.now,
    },
    (state) => {
      const current = coordinatorPolicyOf(state);
      changed =
        current.policy !== wanted.policy ||
        current.maxObservationAgeSeconds !== wanted.maxObservationAgeSeconds ||
        JSON.stringify(current.newStandby) !== JSON.stringify(wanted.newStandby);
      return changed ? [{ type: 'CoordinatorPolicySet', data: wanted }] : [];
    },
  );
  return { clusterId, coordinatorPolicy: wanted, changed, seq };
}
