import type * as z from '#domain/zod.ts';
import type { ClusterOperations } from '#cluster/port.ts';
import { UnknownCluster } from '#domain/errors.ts';
import { fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { coordinatorRows } from '#domain/coordinator-fold.ts';
import type { CoordinatorLookVerdict } from '#domain/coordinator.ts';
import type { ClusterBackend } from '#cluster/backend.ts';
import {
  coordinatorAnswered,
  coordinatorLook,
  standbyObservation,
} from '#app/coordinator-watch.ts';
import { reconcile } from '#domain/reconcile.ts';
import { decide } from '#domain/rules.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { workflowInputSchema } from '#domain/step-contract.ts';
import {
  WATCH_PROBE_RULES,
  WATCH_RULES,
  detectionReport,
  doubleFaultNotice,
  isWhole,
  lookCounts,
  probeContext,
  lastKnownWhole,
  watchContext,
  watchIncidentId,
  type Look,
  type LookCounts,
  type RunHolder,
  type WatchAction,
} from '#domain/watch.ts';
import { ConcurrencyError } from '#store/errors.ts';
import type { StorePorts } from '#store/ports.ts';
import { ClusterBusy, supersedeDeadHolder, type HolderDeps } from '#app/control.ts';
import type { Notifier } from '#app/notifier.ts';
import { executionName, type StartedExecution } from '#app/starter.ts';

/**
 * What one look needs: the log and the lock (never the projection), the cluster, the same
 * starter as the API, and SNS.
 */
export type WatchDeps = HolderDeps & {
  stores: Pick<StorePorts, 'events' | 'lock' | 'standby'>;
  cluster: ClusterBackend;
  notifier: Notifier;
  /** How the runs a look starts poll (serve --poll-seconds); the workflow's defaults otherwise. */
  waits?: WorkflowWaits;
};

type WorkflowWaits = z.input<typeof workflowInputSchema>['waits'];

/** What one look saw and did, small enough for a Lambda's answer and a metrics line. */
export interface WatchReport {
  clusterId: string;
  at: string;
  counts: LookCounts;
  whole: boolean;
  /** Unknown until a look has seen the cluster whole once. */
  secondsSinceWhole: number | undefined;
  /** The look requested an FTS probe and read again. */
  probed: boolean;
  /** Events appended (0 when nothing changed). */
  recorded: number;
  /**
   * The row of WATCH_RULES that decided, and its outcome; or, when the coordinator could not
   * be read, the row of COORDINATOR_LOOK_RULES.
   */
  rule: string;
  action: WatchAction | CoordinatorLookVerdict;
  /**
   * `stood-down`: the log moved while the look read the cluster, so it recorded and did
   * nothing (the next look decides afresh); `busy`: a run took the cluster meanwhile.
   */
  outcome: 'done' | 'stood-down' | 'busy';
  started?: StartedExecution & { incidentId: string };
  notified?: boolean;
}

/**
 * A look in brief: what `serve`'s status route and dashboard show of its watcher's last look.
 * (Behind API Gateway the looks are CloudWatch metrics, not an API answer.)
 */
export interface LastLook {
  at: string;
  whole: boolean;
  /** Unknown until a look has seen the cluster whole once. */
  secondsSinceWhole: number | null;
  /** What the look did; `failed`: it could not look (`error` says why). */
  action: WatchAction | CoordinatorLookVerdict | 'failed';
  /** The incident the look started. */
  started?: string;
  error?: string;
}

export const lastLookOf = (report: WatchReport): LastLook => ({
  at: report.at,
  whole: report.whole,
  secondsSinceWhole: report.secondsSinceWhole ?? null,
  action: report.action,
  ...(report.started ? { started: report.started.incidentId } : {}),
});

const secondsSince = (since: 'now' | string | undefined, now: Date): number | undefined =>
  since === undefined
    ? undefined
    : since === 'now'
      ? 0
      : Math.max(0, (now.getTime() - Date.parse(since)) / 1000);

/** Whether a live run holds the cluster: the lock's holder as the starter describes it. */
async function holderOf(deps: WatchDeps, clusterId: string, state: ClusterState) {
  const lock = await deps.stores.lock.read(clusterId);
  if (!lock) return state.recovery ? 'gone' : 'none';
  return (await deps.starter.describe(lock.holder)).running ? 'live' : 'gone';
}

/** One read of the cluster, and a second after an FTS probe when WATCH_PROBE_RULES say so. */
async function lookAt(
  cluster: ClusterOperations,
  state: ClusterState,
): Promise<{ look: Look; probed: boolean }> {
  const first = await cluster.readConfiguration();
  const changed = reconcile(state, first).length > 0;
  if (decide(WATCH_PROBE_RULES, probeContext(first, changed)).then === 'settled')
    return { look: first, probed: false };
  await cluster.requestFtsProbe();
  return { look: await cluster.readConfiguration(), probed: true };
}

interface Effect {
  deps: WatchDeps;
  clusterId: string;
  after: ClusterState;
  look: Look;
  /** Appends what the look found (and `extra`); false when the log moved meanwhile. */
  record: (extra?: NewEvent[]) => Promise<boolean>;
}

type Done = Pick<WatchReport, 'outcome' | 'started' | 'notified'>;

const stoodDown: Done = { outcome: 'stood-down' };

/**
 * What each outcome of WATCH_RULES does. A notice goes out before the events are appended,
 * so that a failed publish is sent again by the next look (which still sees the change)
 * rather than lost; a recovery starts after, named after the head the append made.
 */
const EFFECTS: Record<WatchAction, (e: Effect) => Promise<Done>> = {
  'leave-to-run': async () => ({ outcome: 'done' }),
  'seen-whole': async (e) =>
    (await e.record([{ type: 'ClusterSeenWhole', data: {} }])) ? { outcome: 'done' } : stoodDown,
  record: async (e) => ((await e.record()) ? { outcome: 'done' } : stoodDown),
  'notify-double-fault': (e) => notifyThenRecord(e, doubleFaultNotice(e.clusterId, e.after)),
  notify: (e) => notifyThenRecord(e, detectionReport(e.clusterId, e.after, e.look)),
  start: async (e) => {
    if (!(await e.record())) return stoodDown;
    const incidentId = watchIncidentId(e.after);
    const counts = lookCounts(e.look);
    const input = parseOrThrow(workflowInputSchema, {
      clusterId: e.clusterId,
      incidentId,
      trigger: {
        source: 'watch',
        detail: `watcher: ${counts.segmentsDown} segments down, ${counts.pairsNotInSync} pairs not in sync, ${counts.contentsSwitched} contents switched`,
      },
      options: {},
      ...(e.deps.waits ? { waits: e.deps.waits } : {}),
    });
    try {
      // A holder that is gone is closed on record first; a live one (it took the cluster
      // since this look began) keeps it, and this look starts nothing.
      await supersedeDeadHolder(e.deps, e.clusterId, {
        executionName: executionName(e.clusterId, incidentId),
        by: `the watcher, incident ${incidentId}`,
      });
    } catch (error) {
      if (error instanceof ClusterBusy) return { outcome: 'busy' };
      throw error;
    }
    return { outcome: 'done', started: { incidentId, ...(await e.deps.starter.start(input)) } };
  },
};

async function notifyThenRecord(e: Effect, reason: string): Promise<Done> {
  await e.deps.notifier.notify({
    clusterId: e.clusterId,
    incidentId: watchIncidentId(e.after),
    status: 'detected',
    reason,
  });
  return { outcome: (await e.record()) ? 'done' : 'stood-down', notified: true };
}

/**
 * Appends what a look found; false when the log moved meanwhile. Decided on the log as it was
 * before the cluster was read: anything appended since (a run's own reads) may be newer than
 * this look, so the look stands down instead of deciding again on what it read.
 */
export async function appendLook(
  deps: WatchDeps,
  clusterId: string,
  before: ClusterState,
  events: NewEvent[],
  at: Date,
): Promise<boolean> {
  try {
    const appended = await deps.stores.events.append(clusterId, events, {
      expectedSeq: before.seq,
      idempotencyKey: `watch@${before.seq}`,
      causation: { actor: 'watcher' },
      at: at.toISOString(),
      state: before,
    });
    return !appended.duplicate;
  } catch (error) {
    if (error instanceof ConcurrencyError) return false;
    throw error;
  }
}

/**
 * One look at a cluster: read it (and probe, when the read shows a change), record what
 * changed since the log's view, decide by WATCH_RULES, and start a recovery, notify or do
 * nothing. A look that sees nothing new writes nothing.
 */
export async function watchCluster(deps: WatchDeps, clusterId: string): Promise<WatchReport> {
  const before = await deps.stores.events.loadState(clusterId);
  if (before.segments.size === 0) throw new UnknownCluster(clusterId);
  const holder: RunHolder = await holderOf(deps, clusterId, before);
  const cluster = deps.cluster(clusterId, coordinatorRows(before.segments).coordinator);
  let seen: Awaited<ReturnType<typeof lookAt>>;
  try {
    seen = await lookAt(cluster, before);
  } catch (error) {
    return coordinatorLook(deps, clusterId, before, cluster, error);
  }
  const { look, probed } = seen;
  const at = deps.now();
  const found = [
    ...coordinatorAnswered(before),
    ...reconcile(before, look),
    ...(await standbyObservation(deps, clusterId, cluster, before, at)),
  ];
  const after = fold(
    found.map((event) => ({ ...event, at: at.toISOString() })),
    before,
  );
  const { rule, then } = decide(WATCH_RULES, watchContext({ before, after, look, holder }));
  let recorded = 0;
  const record = async (extra: NewEvent[] = []) => {
    const events = [...found, ...extra];
    if (events.length === 0) return true;
    const appended = await appendLook(deps, clusterId, before, events, at);
    if (appended) recorded = events.length;
    return appended;
  };
  const done = await EFFECTS[then]({ deps, clusterId, after, look, record });
  const whole = isWhole(look);
  return {
    clusterId,
    at: at.toISOString(),
    counts: lookCounts(look),
    whole,
    secondsSinceWhole: secondsSince(lastKnownWhole(after, whole), at),
    probed,
    recorded,
    rule,
    action: then,
    ...done,
  };
}
