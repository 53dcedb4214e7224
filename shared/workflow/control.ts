import type { ClusterState } from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { UnknownCluster } from '#domain/errors.ts';
import { ConcurrencyError } from '#store/errors.ts';
import type { Stores } from '#store/stores.ts';

/**
 * An operator's request that the log refuses: nothing is running, it was done already, it
 * names another incident. The message names the cluster and incident and says what to do;
 * nothing was written.
 */
export class OperatorRequestRefused extends Error {
  override name = 'OperatorRequestRefused';
}

/**
 * Decide-then-append for an operator's request, as `record()` does for the workflow: decided
 * on the state it is appended after; a lost race re-reads and decides again (the winner may
 * have made the request pointless, and then it is refused).
 */
export async function appendDecided(
  stores: Stores,
  clusterId: string,
  options: { key: (state: ClusterState) => string; actor: string; now: () => Date },
  decide: (state: ClusterState) => NewEvent[],
): Promise<{ state: ClusterState; seq: number }> {
  for (let attempt = 0; ; attempt++) {
    const state = await stores.events.loadState(clusterId);
    if (state.segments.size === 0) throw new UnknownCluster(clusterId);
    const events = decide(state);
    try {
      const { lastSeq } = await stores.events.append(clusterId, events, {
        expectedSeq: state.seq,
        idempotencyKey: options.key(state),
        causation: { actor: options.actor },
        at: options.now().toISOString(),
        state,
      });
      return { state, seq: lastSeq };
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= 4) throw error;
    }
  }
}

/** The recovery in progress, or a refusal naming the cluster (and the incident asked for). */
export function recoveryInProgress(state: ClusterState, clusterId: string, incidentId?: string) {
  const recovery = state.recovery;
  if (!recovery)
    throw new OperatorRequestRefused(
      `cluster ${clusterId} has no recovery in progress${
        state.lastIncident
          ? ` (the last, incident ${state.lastIncident.incidentId}, ${state.lastIncident.status} at ${state.lastIncident.at})`
          : ''
      }; nothing to do`,
    );
  if (incidentId !== undefined && recovery.incidentId !== incidentId)
    throw new OperatorRequestRefused(
      `cluster ${clusterId}: incident ${incidentId} is not the recovery in progress (incident ${recovery.incidentId}); name that one or none`,
    );
  return recovery;
}

/**
 * Approves the rebalance of the recovery in progress: an event in the log, which the run's
 * Wait/Check loop finds at its next check. Refused (nothing written) when nothing runs, when
 * the run follows `immediate` or `never`, or when it was approved already.
 */
export async function approveRebalance(
  deps: { stores: Stores; now: () => Date },
  clusterId: string,
  request: { by: string; incidentId?: string },
) {
  let incidentId = '';
  let awaiting = false;
  const { seq } = await appendDecided(
    deps.stores,
    clusterId,
    { key: (s) => `approve/${s.recovery?.incidentId}`, actor: request.by, now: deps.now },
    (state) => {
      const recovery = recoveryInProgress(state, clusterId, request.incidentId);
      incidentId = recovery.incidentId;
      const policy =
        recovery.rebalance?.policy ?? (recovery.options.rebalance ? 'immediate' : 'never');
      if (policy === 'immediate' || policy === 'never')
        throw new OperatorRequestRefused(
          `cluster ${clusterId}: incident ${incidentId} follows rebalance policy ${policy}, so it waits for no approval${
            policy === 'never'
              ? '; to rebalance, start a recovery with rebalance policy immediate once this one ends'
              : ''
          }`,
        );
      if (recovery.approved)
        throw new OperatorRequestRefused(
          `cluster ${clusterId}: the rebalance of incident ${incidentId} was already approved by ${recovery.approved.by} at ${recovery.approved.at}`,
        );
      awaiting = recovery.awaitingRebalance !== undefined;
      return [{ type: 'RebalanceApproved', data: { incidentId, by: request.by } }];
    },
  );
  return {
    clusterId,
    incidentId,
    approvedBy: request.by,
    seq,
    message: awaiting
      ? `approved: gprecoverseg -r starts at the run's next check`
      : `approved in advance: gprecoverseg -r runs as soon as every pair is in sync`,
  };
}
