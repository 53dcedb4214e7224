import type { ClusterOperations } from '#cluster/port.ts';
import { runPhase } from '#domain/decisions.ts';
import type { ClusterState } from '#domain/evolve.ts';
import type { NewEvent, Phase, RecoveryPolicy, RunPhase } from '#domain/events.ts';
import { UnknownCluster } from '#domain/errors.ts';
import { ConcurrencyError } from '#store/errors.ts';
import type { StorePorts } from '#store/ports.ts';
import type { WorkflowStarter } from '#app/starter.ts';

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
  stores: Pick<StorePorts, 'events'>,
  clusterId: string,
  options: { key: (state: ClusterState) => string; actor: string; now: () => Date },
  decide: (state: ClusterState) => NewEvent[],
): Promise<{ state: ClusterState; seq: number }> {
  for (let attempt = 0; ; attempt++) {
    const state = await stores.events.loadState(clusterId);
    if (state.segments.size === 0) throw new UnknownCluster(clusterId);
    const events = decide(state);
    // A request that changes nothing (the winner of a race did it already) writes nothing.
    if (events.length === 0) return { state, seq: state.seq };
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
  deps: { stores: StorePorts; now: () => Date },
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

/**
 * Sets what the watcher does when the cluster fails (RecoveryPolicySet): `auto` starts a
 * recovery, `notify` sends a notice, `off` neither. The policy the cluster already has is not
 * written again.
 */
export async function setRecoveryPolicy(
  deps: { stores: StorePorts; now: () => Date },
  clusterId: string,
  request: { policy: RecoveryPolicy; by: string },
) {
  let previous: RecoveryPolicy | undefined;
  const { seq } = await appendDecided(
    deps.stores,
    clusterId,
    { key: (s) => `recovery-policy/${request.policy}@${s.seq}`, actor: request.by, now: deps.now },
    (state) => {
      previous = state.recoveryPolicy;
      return previous === request.policy
        ? []
        : [{ type: 'RecoveryPolicySet', data: { policy: request.policy } }];
    },
  );
  return { clusterId, recoveryPolicy: request.policy, changed: previous !== request.policy, seq };
}

/* ---------- Who holds the cluster, and is it alive ---------- */

/** A live run holds the cluster: the request waits its turn (409), naming the holder. */
export class ClusterBusy extends Error {
  override name = 'ClusterBusy';
  constructor(
    readonly clusterId: string,
    readonly holder: string,
    readonly incidentId: string,
    readonly since: string,
  ) {
    super(
      `cluster ${clusterId} is being recovered by execution ${executionNameOf(holder)} (incident ${incidentId}) since ${since}, and it is running; ` +
        `follow it with recoverseg status --cluster ${clusterId}, or stop it with recoverseg cancel --cluster ${clusterId}`,
    );
  }
}

export interface ControlDeps {
  stores: StorePorts;
  starter: WorkflowStarter;
  now: () => Date;
  /** The cluster itself, where this process can reach it (serve); absent behind API Gateway. */
  cluster?: ((clusterId: string) => ClusterOperations) | undefined;
}

/** What telling a live lock holder from a dead one needs: the log, the lock and the starter. */
export type HolderDeps = Pick<ControlDeps, 'starter' | 'now'> & {
  stores: Pick<StorePorts, 'events' | 'lock'>;
};

const executionNameOf = (arn: string): string => arn.split(':').at(-1) ?? arn;

/** The phase an abandoned run stopped in, as RecoveryFailed records it. */
const FAILED_PHASE: Record<RunPhase, Phase> = {
  detecting: 'detect',
  promoting: 'promote',
  recovering: 'recover',
  synchronizing: 'sync',
  'awaiting-rebalance': 'rebalance',
  rebalancing: 'rebalance',
  finishing: 'finish',
};

/**
 * Before a run starts: the cluster's lock holder must still live (DescribeExecution in AWS,
 * the local runner locally). A live holder of another incident is ClusterBusy; a holder that
 * is gone is superseded on record (RecoveryFailed ... abandoned) and its lock released, so a
 * dead run never wedges the cluster. `incoming` is the execution about to start: its own
 * lock is no obstacle (a retry, or a resumed run).
 */
export async function supersedeDeadHolder(
  deps: HolderDeps,
  clusterId: string,
  incoming: { executionName?: string; by: string },
): Promise<{ superseded: string | undefined }> {
  const lock = await deps.stores.lock.read(clusterId);
  if (lock && incoming.executionName && executionNameOf(lock.holder) === incoming.executionName)
    return { superseded: undefined };
  const state = await deps.stores.events.loadState(clusterId);
  if (!lock && !state.recovery) return { superseded: undefined };
  let gone = 'its lock expired';
  if (lock) {
    const liveness = await deps.starter.describe(lock.holder);
    if (liveness.running)
      throw new ClusterBusy(
        clusterId,
        lock.holder,
        lock.incidentId,
        new Date(lock.acquiredAt * 1000).toISOString(),
      );
    gone = `execution ${executionNameOf(lock.holder)} is ${liveness.status}${liveness.stoppedAt ? ` since ${liveness.stoppedAt}` : ''}`;
  }
  const open = state.recovery?.incidentId;
  if (open)
    await appendDecided(
      deps.stores,
      clusterId,
      {
        key: (s) => `abandon/${s.recovery?.incidentId}@${s.seq}`,
        actor: incoming.by,
        now: deps.now,
      },
      (s) =>
        s.recovery?.incidentId === open
          ? [
              {
                type: 'RecoveryFailed',
                data: {
                  incidentId: open,
                  phase: FAILED_PHASE[runPhase(s) ?? 'finishing'],
                  reason: `abandoned: its run ended without closing it (${gone}); superseded by ${incoming.by}`,
                },
              },
            ]
          : [],
    );
  if (lock) await deps.stores.lock.release(clusterId, lock.holder);
  return { superseded: open ?? lock?.incidentId };
}

/* ---------- Cancel ---------- */

/** What is known of a gprecoverseg on the coordinator: recoverseg never kills one. */
async function gprecoversegReport(
  deps: ControlDeps,
  clusterId: string,
  state: ClusterState,
): Promise<{ running: boolean | 'unknown'; pid?: number; detail: string }> {
  const recovery = state.recovery!;
  const unfinished = recovery.started.filter((d) => state.segments.get(d)?.status === 'd');
  const probe = deps.cluster?.(clusterId).runningGprecoverseg;
  if (probe) {
    const running = await probe.call(deps.cluster!(clusterId));
    if (!running)
      return { running: false, detail: 'no gprecoverseg is running on the coordinator' };
    const what = running.kind === 'rebalance' ? 'gprecoverseg -r' : 'gprecoverseg';
    const id =
      running.pid !== undefined ? `PID ${running.pid}` : `operation ${running.operationId}`;
    return {
      running: true,
      ...(running.pid !== undefined ? { pid: running.pid } : {}),
      detail: `${what} (${id}) is still running on the coordinator; recoverseg never kills it: let it finish (gpstate -e shows its progress), then start a recovery again if segments stay down`,
    };
  }
  return {
    running: 'unknown',
    detail:
      unfinished.length > 0
        ? `gprecoverseg was started for dbid ${unfinished.join(', ')} and is not on record as finished: it may still run on the coordinator (recoverseg never kills it); look for gprecoverseg.lock in the coordinator data directory and gpstate -e`
        : 'not checked from here: look for gprecoverseg.lock in the coordinator data directory before recovering by hand',
  };
}

/**
 * Stops the recovery in progress (StopExecution in AWS, the local runner locally), records
 * RecoveryCancelled and releases the lock. A gprecoverseg already running is never killed:
 * the answer says so. Refused (nothing written) when nothing runs or it names another incident.
 */
export async function cancelRecovery(
  deps: ControlDeps,
  clusterId: string,
  request: { by: string; reason: string; incidentId?: string },
) {
  const before = await deps.stores.events.loadState(clusterId);
  if (before.segments.size === 0) throw new UnknownCluster(clusterId);
  const recovery = recoveryInProgress(before, clusterId, request.incidentId);
  const lock = await deps.stores.lock.read(clusterId);
  const holder = lock?.incidentId === recovery.incidentId ? lock.holder : undefined;
  if (holder) await deps.starter.stop(holder, `cancelled by ${request.by}: ${request.reason}`);
  const gprecoverseg = await gprecoversegReport(deps, clusterId, before);
  const { seq } = await appendDecided(
    deps.stores,
    clusterId,
    { key: (s) => `cancel/${s.recovery?.incidentId}`, actor: request.by, now: deps.now },
    (state) => {
      recoveryInProgress(state, clusterId, recovery.incidentId);
      return [
        {
          type: 'RecoveryCancelled',
          data: {
            incidentId: recovery.incidentId,
            by: request.by,
            reason: request.reason,
            gprecoverseg: gprecoverseg.detail,
          },
        },
      ];
    },
  );
  if (holder) await deps.stores.lock.release(clusterId, holder);
  return {
    clusterId,
    incidentId: recovery.incidentId,
    cancelledBy: request.by,
    stopped: holder ? executionNameOf(holder) : null,
    seq,
    gprecoverseg,
  };
}
