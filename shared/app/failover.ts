import {
  ACTIVATION_RULES,
  COORDINATOR_FAILOVER_RULES,
  FENCE_RULES,
  approvalRisk,
  confirmedAtOf,
  coordinatorPolicyOf,
  failoverContext,
  staleStandbyReport,
  type FailoverContext,
  type FailoverVerdict,
} from '#domain/coordinator.ts';
import { coordinatorRows, type ActiveFailover } from '#domain/coordinator-fold.ts';
import { ClusterUnreadable } from '#domain/errors.ts';
import type { ClusterState } from '#domain/evolve.ts';
import type { FenceMethod, NewEvent } from '#domain/events.ts';
import { decide } from '#domain/rules.ts';
import type { SegmentRow } from '#domain/segment.ts';
import type {
  TaskEvent,
  activateResultSchema,
  activationResultSchema,
  clientsResultSchema,
  failoverStartResultSchema,
  fenceResultSchema,
} from '#domain/step-contract.ts';
import type * as z from '#domain/zod.ts';
import { probeCoordinator } from '#app/coordinator-probe.ts';
import type { CoordinatorOperations } from '#cluster/port.ts';
import { loadRegistered, record, takeCluster, type StepDeps } from '#app/steps.ts';

/*
 * The coordinator failover run: StartFailover (is the coordinator lost, and may its standby be
 * activated?), DecideActivation (which fence, and does the activation wait for an operator?),
 * FenceCoordinator, ActivateStandby, MoveClients, FinishFailover. Every decision is a row of
 * shared/domain/coordinator.ts; every fact goes on record before the next step acts on it, so
 * the log itself refuses an activation that could leave two coordinators.
 */

type Result<S extends z.ZodMiniType> = z.infer<S>;

/** The failover could not go on as decided; the run fails with this on record. */
export class FailoverStopped extends Error {
  override name = 'FailoverStopped';
}

/**
 * The coordinator operations of the cluster, addressed from the coordinator on record (after
 * an earlier failover it is not where the deployment was configured); undefined when the
 * adapter has none.
 */
function coordinatorOps(
  deps: StepDeps,
  clusterId: string,
  state: ClusterState,
): CoordinatorOperations | undefined {
  return deps.cluster(clusterId, coordinatorRows(state.segments).coordinator).coordinator;
}

function theFailover(state: ClusterState, incidentId: string): ActiveFailover {
  const failover = state.coordinator?.failover;
  if (failover?.incidentId !== incidentId)
    throw new FailoverStopped(
      `incident ${incidentId}: no coordinator failover of this incident is in progress${failover ? ` (${failover.incidentId} is)` : ''}`,
    );
  return failover;
}

const rowOf = (state: ClusterState, dbid: number): SegmentRow => {
  const row = state.segments.get(dbid);
  if (!row) throw new FailoverStopped(`dbid ${dbid} is not in the configuration on record`);
  return row;
};

/** What each refusal puts on record, naming the cluster object and what to do. */
const REFUSALS: Record<Exclude<FailoverVerdict, 'start'>, (c: FailoverContext) => string> = {
  'no-standby': () =>
    'the cluster has no standby coordinator: nothing to activate; restore the coordinator (or its host), then gpstart',
  'cannot-probe': (c) =>
    `standby dbid ${c.standby!.dbid} (${c.standby!.hostname}): recoverseg cannot reach its host to ask pg_isready; nothing is activated unseen: check the standby host, then start the failover again`,
  'coordinator-answers': (c) =>
    `the coordinator answers pg_isready (${c.probe!.coordinator}) from the standby's host: it is not lost; nothing to fail over`,
  'standby-down': (c) =>
    `standby dbid ${c.standby!.dbid} (${c.standby!.hostname}:${c.standby!.port}) does not answer (pg_isready: ${c.probe!.standby}): nothing alive to activate; the cluster is stopped or lost both: gpstart, or restore the coordinator`,
  'stale-standby': staleStandbyReport,
  off: () =>
    'coordinator policy off: the loss is on record; recoverseg activates nothing: run gpactivatestandby yourself, or set the policy to approval',
};

export async function startFailover(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof failoverStartResultSchema>> {
  const { clusterId, incidentId, trigger } = event.input;
  const { now, state: registered } = await takeCluster(deps, event);
  const probe = await probeCoordinator(coordinatorOps(deps, clusterId, registered), registered);
  // The loss goes on record first (a run started by hand finds it here), then the decision
  // is made on the log that holds it.
  await record(deps, event, 'CoordinatorLost', (s) => {
    const { coordinator } = coordinatorRows(s.segments);
    return probe?.coordinator === 'no-response' && coordinator && !s.coordinator?.unreachable
      ? [
          {
            type: 'CoordinatorUnreachable',
            data: {
              coordinatorDbid: coordinator.dbid,
              detail: `pg_isready ${coordinator.hostname}:${coordinator.port}: no response (asked from the standby's host)`,
            },
          },
        ]
      : [];
  });
  const confirmation = await deps.stores.standby.read(clusterId);
  let verdict: { rule: string; then: FailoverVerdict } | undefined;
  await record(deps, event, 'StartFailover', (s) => {
    // A retried start finds its own failover, or its own refusal, on record.
    if (s.coordinator?.failover?.incidentId === incidentId) return [];
    if (s.coordinator?.lastFailover?.incidentId === incidentId) return [];
    const context = failoverContext(s, probe, confirmation);
    verdict = decide(COORDINATOR_FAILOVER_RULES, context);
    if (verdict.then !== 'start')
      return [
        {
          type: 'CoordinatorFailoverRefused',
          data: { incidentId, reason: REFUSALS[verdict.then](context).slice(0, 2000) },
        },
      ];
    const observation = s.coordinator!.standby!;
    const confirmedAt = confirmedAtOf(observation, confirmation);
    return [
      {
        type: 'CoordinatorFailoverStarted',
        data: {
          incidentId,
          coordinatorDbid: s.coordinator!.unreachable!.coordinatorDbid,
          standbyDbid: context.standby!.dbid,
          observationSeq: observation.seq,
          ...(confirmedAt ? { confirmedAt } : {}),
          maxObservationAgeSeconds: context.maxObservationAgeSeconds,
          trigger,
        },
      },
    ];
  });
  const state = await loadRegistered(deps, clusterId);
  const going = state.coordinator?.failover?.incidentId === incidentId;
  if (!going) {
    const reason = state.coordinator?.lastFailover?.reason ?? 'refused';
    await deps.notifier.notify({ clusterId, incidentId, status: 'failover-refused', reason });
  }
  return {
    at: now.toISOString(),
    next: going ? 'activation' : 'finish',
    rule: verdict?.rule ?? 'already on record (a retried start)',
  };
}

/** Which fence is possible now: the EC2 instance when the stack knows it, else the host's shell. */
async function fenceNow(
  deps: StepDeps,
  clusterId: string,
  state: ClusterState,
  old: SegmentRow,
): Promise<{ fence: FenceMethod; instanceId: string | undefined }> {
  const instanceId = deps.instances?.instanceOf(old.hostname);
  const ops = coordinatorOps(deps, clusterId, state);
  const hostAnswers = instanceId === undefined && ops ? await ops.hostAnswers(old) : false;
  const { then } = decide(FENCE_RULES, { instanceKnown: instanceId !== undefined, hostAnswers });
  return { fence: then, instanceId };
}

const approvedFence = (failover: ActiveFailover): FenceMethod | undefined =>
  failover.approved ? failover.awaitingApproval?.fence : undefined;

/** An AwaitingApproval for `fence`, unless the same question is already asked. */
function askFor(
  clusterId: string,
  incidentId: string,
  failover: ActiveFailover,
  state: ClusterState,
  fence: FenceMethod,
): NewEvent[] {
  if (failover.awaitingApproval?.fence === fence && !failover.approved) return [];
  const { policy } = coordinatorPolicyOf(state);
  const risk = approvalRisk(
    clusterId,
    { policy, fence, approved: undefined },
    rowOf(state, failover.coordinatorDbid),
  );
  return [{ type: 'CoordinatorFailoverAwaitingApproval', data: { incidentId, risk, fence } }];
}

export async function decideActivation(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof activationResultSchema>> {
  const { clusterId, incidentId, waits, limits } = event.input;
  const now = deps.now();
  const before = await loadRegistered(deps, clusterId);
  const failover = theFailover(before, incidentId);
  const { fence } = await fenceNow(
    deps,
    clusterId,
    before,
    rowOf(before, failover.coordinatorDbid),
  );
  const { rule, then } = decide(ACTIVATION_RULES, {
    policy: coordinatorPolicyOf(before).policy,
    fence,
    approved: approvedFence(failover),
  });
  const checks = (event.input.activation?.checks ?? 0) + 1;
  const since = event.input.activation?.since ?? now.toISOString();
  const result = { at: now.toISOString(), rule, since, checks, waitSeconds: 0 };
  if (then !== 'await-approval') return { ...result, next: 'fence' };
  const waited = (now.getTime() - Date.parse(since)) / 1000;
  if (waited >= limits.activationWaitSeconds) {
    await record(deps, event, 'DecideActivation', (s) =>
      s.coordinator?.failover?.incidentId === incidentId
        ? [
            {
              type: 'CoordinatorFailoverFailed',
              data: {
                incidentId,
                reason: `no operator approved the activation within ${limits.activationWaitSeconds} s; nothing was fenced or activated: run gpactivatestandby yourself, or start the failover again`,
              },
            },
          ]
        : [],
    );
    return { ...result, next: 'finish' };
  }
  const { appended } = await record(deps, event, 'DecideActivation', (s) =>
    askFor(clusterId, incidentId, theFailover(s, incidentId), s, fence),
  );
  if (appended.length > 0) {
    const asked = appended[0] as Extract<NewEvent, { type: 'CoordinatorFailoverAwaitingApproval' }>;
    await deps.notifier.notify({
      clusterId,
      incidentId,
      status: 'awaiting-activation',
      reason: asked.data.risk,
    });
  }
  // Checks start every poll and slow down to the approval poll, as a rebalance's do.
  const waitSeconds = Math.min(
    waits.approvalPollSeconds,
    Math.max(waits.pollSeconds, waits.pollSeconds * 2 ** Math.min(checks - 1, 10)),
  );
  return { ...result, next: 'await', waitSeconds };
}

export async function fenceCoordinator(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof fenceResultSchema>> {
  const { clusterId, incidentId, limits } = event.input;
  const at = deps.now().toISOString();
  const before = await loadRegistered(deps, clusterId);
  const failover = theFailover(before, incidentId);
  const polls = (event.input.fence?.polls ?? 0) + 1;
  if (failover.fenced) return { at, next: 'activate', how: failover.fenced.how, polls };
  const old = rowOf(before, failover.coordinatorDbid);
  const { fence, instanceId } = await fenceNow(deps, clusterId, before, old);
  const { then } = decide(ACTIVATION_RULES, {
    policy: coordinatorPolicyOf(before).policy,
    fence,
    approved: approvedFence(failover),
  });
  const fenced = async (how: FenceMethod, detail: string) => {
    await record(deps, event, 'FenceCoordinator', (s) =>
      theFailover(s, incidentId).fenced
        ? []
        : [
            {
              type: 'CoordinatorFenced',
              data: { incidentId, coordinatorDbid: old.dbid, how, detail: detail.slice(0, 500) },
            },
          ],
    );
    return { at, next: 'activate' as const, how, polls };
  };
  const ask = async (how: FenceMethod) => {
    await record(deps, event, 'FenceCoordinator', (s) =>
      askFor(clusterId, incidentId, theFailover(s, incidentId), s, how),
    );
    return { at, next: 'await' as const, how, polls };
  };
  // The fence possible now is not the one approved (the host stopped answering since):
  // the operator is asked again, naming the new risk.
  if (then === 'await-approval') return ask(fence);
  if (then === 'activate-unfenced')
    return fenced('none', `no fence: approved by ${failover.approved!.by}`);
  if (fence === 'ec2-stop-instances') {
    if (polls === 1) await deps.instances!.stop(instanceId!);
    const state = await deps.instances!.state(instanceId!);
    // A terminated instance cannot come back either.
    if (state === 'stopped' || state === 'terminated')
      return fenced(fence, `EC2 instance ${instanceId} ${state} (StopInstances, force)`);
    if (polls >= limits.maxFencePolls)
      throw new FailoverStopped(
        `coordinator dbid ${old.dbid}: EC2 instance ${instanceId} is still ${state} after ${polls} checks; nothing was activated: stop it yourself, then start the failover again`,
      );
    return { at, next: 'wait', how: fence, polls };
  }
  try {
    const done = await coordinatorOps(deps, clusterId, before)!.fence(old);
    const removed = done.removed.length > 0 ? `; removed ${done.removed.join(', ')}` : '';
    return await fenced(
      fence,
      `${done.stopped ? 'postmaster stopped (pg_ctl stop -m immediate)' : 'no postmaster ran'} on ${old.hostname}${removed}`,
    );
  } catch (error) {
    // The host stopped answering between the decision and the fence: no fence any more.
    if (error instanceof Error && error.name === 'HostUnreachable') return ask('none');
    throw error;
  }
}

export async function activateStandby(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof activateResultSchema>> {
  const { clusterId, incidentId } = event.input;
  const at = deps.now().toISOString();
  const before = await loadRegistered(deps, clusterId);
  const failover = theFailover(before, incidentId);
  if (failover.activated) return { at, dbid: failover.standbyDbid };
  const standby = rowOf(before, failover.standbyDbid);
  const ops = coordinatorOps(deps, clusterId, before);
  if (!ops) throw new FailoverStopped(`incident ${incidentId}: the adapter cannot activate`);
  try {
    await ops.activate(standby);
  } catch (error) {
    // A retry after gpactivatestandby succeeded: the standby accepts connections now.
    const probe = await ops.probe(rowOf(before, failover.coordinatorDbid), standby).catch(() => {
      throw error;
    });
    if (probe.standby !== 'accepting') throw error;
  }
  await record(deps, event, 'ActivateStandby', (s) =>
    theFailover(s, incidentId).activated
      ? []
      : [{ type: 'StandbyActivated', data: { incidentId, dbid: standby.dbid } }],
  );
  return { at, dbid: standby.dbid };
}

export async function moveClients(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof clientsResultSchema>> {
  const { clusterId, incidentId } = event.input;
  const at = deps.now().toISOString();
  const before = await loadRegistered(deps, clusterId);
  const failover = theFailover(before, incidentId);
  const endpoint = deps.clients;
  // A new standby where the run was asked to make one, else where the policy says.
  const next =
    (event.input.standby ?? coordinatorPolicyOf(before).newStandby)
      ? ('standby' as const)
      : ('finish' as const);
  if (!endpoint) return { at, next, moved: [] };
  const { coordinator } = coordinatorRows(before.segments);
  if (coordinator?.dbid !== failover.standbyDbid)
    throw new ClusterUnreadable(
      `incident ${incidentId}: the coordinator on record is not the activated standby dbid ${failover.standbyDbid}`,
    );
  const done = failover.clients.some(
    (c) => c.how === endpoint.how && c.to === coordinator.hostname,
  );
  if (!done) {
    await endpoint.move(coordinator);
    await record(deps, event, 'MoveClients', (s) =>
      theFailover(s, incidentId).clients.some((c) => c.how === endpoint.how)
        ? []
        : [
            {
              type: 'ClientEndpointMoved',
              data: {
                incidentId,
                how: endpoint.how,
                endpoint: endpoint.endpoint,
                to: coordinator.hostname,
              },
            },
          ],
    );
  }
  return { at, next, moved: [{ how: endpoint.how, endpoint: endpoint.endpoint }] };
}

/** What an operator does after an activation: the tools' environment, then a new standby. */
const afterActivation = (coordinator: SegmentRow): string =>
  `the coordinator is dbid ${coordinator.dbid} on ${coordinator.hostname}:${coordinator.port}: point the admin environment there (MASTER_DATA_DIRECTORY, or COORDINATOR_DATA_DIRECTORY from 7, =${coordinator.datadir}; PGPORT=${coordinator.port}); the cluster runs without a standby coordinator: initialize one (gpinitstandby -a -s HOST) once a host is ready`;

export async function finishFailover(deps: StepDeps, event: TaskEvent) {
  const { clusterId, incidentId } = event.input;
  const { state } = await record(deps, event, 'FinishFailover', (s) => {
    const failover = s.coordinator?.failover;
    if (failover?.incidentId !== incidentId || !failover.activated) return [];
    const note = afterActivation(rowOf(s, failover.standbyDbid));
    return [
      { type: 'CoordinatorFailoverCompleted', data: { incidentId, outcome: 'activated', note } },
    ];
  });
  await deps.stores.lock.release(clusterId, event.executionId);
  const last = state.coordinator?.lastFailover;
  const activated = last?.incidentId === incidentId && last.outcome === 'activated';
  if (activated)
    await deps.notifier.notify({
      clusterId,
      incidentId,
      status: 'failed-over',
      reason: last.reason,
    });
  return {
    status: activated ? ('activated' as const) : ('not-activated' as const),
    seq: state.seq,
    ...(last?.incidentId === incidentId && last.reason ? { reason: last.reason } : {}),
  };
}

/** RecordFailure for a failover run: the failover ends failed on record, fenced or not. */
export function failoverFailed(incidentId: string, reason: string) {
  return (s: ClusterState): NewEvent[] =>
    s.coordinator?.failover?.incidentId === incidentId
      ? [{ type: 'CoordinatorFailoverFailed', data: { incidentId, reason } }]
      : [];
}
