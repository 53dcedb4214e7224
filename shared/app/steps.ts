import { createHash } from 'node:crypto';
import { ClusterUnreadable, IncrementalRecoveryFailed, UnknownCluster } from '#domain/errors.ts';
import { configurationOf, pairsOfState, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent, Phase, PlanItem, RebalanceSetting } from '#domain/events.ts';
import {
  MAX_PLANS_PER_INCIDENT,
  MILESTONE_RULES,
  PROMOTION_RULES,
  RECOVERY_OUTCOME_RULES,
  SOURCE_RULES,
  SYNC_RULES,
  doubleFaultReport,
  doubleFaultedPairs,
  escalatedDbids,
  inPlaceFailures,
  isStreamingInSync,
  planRecovery,
  promotionContext,
  promotionPendingReport,
  rebalanceSettingFor,
  sourceContext,
  sourcesPendingReport,
  sourcesReport,
  type RecoveryProgressContext,
} from '#domain/decisions.ts';
import {
  FAILURE_PHASE_RULES,
  FINISH_RULES,
  OUTCOME_NOTES,
  PLAN_RULES,
  START_RULES,
} from '#domain/run-rules.ts';
import { planEvents } from '#domain/parts.ts';
import { decide } from '#domain/rules.ts';
import { isInPreferredRoles } from '#domain/segment.ts';
import { settle } from '#domain/verdicts.ts';
import { isWindowOpen, nextOpening, parseWindow } from '#domain/window.ts';
import { reconcile } from '#domain/reconcile.ts';
import { coordinatorRows } from '#domain/coordinator-fold.ts';
import { incidentTimings } from '#domain/timings.ts';
import type * as z from '#domain/zod.ts';
import type {
  TaskEvent,
  detectResultSchema,
  operationResultSchema,
  planResultSchema,
  promoteResultSchema,
  startResultSchema,
  syncResultSchema,
} from '#domain/step-contract.ts';
import type {
  ClientEndpoint,
  ClusterOperations,
  InstanceFence,
  OperationHandle,
} from '#cluster/port.ts';
import type { ClusterBackend } from '#cluster/backend.ts';
import { ConcurrencyError } from '#store/errors.ts';
import type { StorePorts } from '#store/ports.ts';
import type { Notifier } from '#app/notifier.ts';
import { failoverFailed } from '#app/failover.ts';

/** What a workflow step needs from the outside world; Lambdas and the local runner build it. */
export interface StepDeps {
  stores: StorePorts;
  cluster: ClusterBackend;
  notifier: Notifier;
  now: () => Date;
  /** The coordinators' EC2 instances (the stack's settings): the fence that stops one. */
  instances?: InstanceFence;
  /** Where clients find the coordinator (a Route 53 record, the user's hook); absent: nowhere. */
  clients?: ClientEndpoint;
}

export type { ClientEndpoint, InstanceFence } from '#cluster/port.ts';

/**
 * A crashed run frees its cluster after this long at the latest; a healthy run finishes well
 * inside it (7 days of recovery and sync, and up to 8 days waiting for a rebalance window).
 * A starter that finds the holder gone supersedes it at once (see cluster-guard.ts).
 */
export const LOCK_SECONDS = 16 * 24 * 3600;
const GB = 1024 ** 3;

type Result<S extends z.ZodMiniType> = z.infer<S>;

export async function loadRegistered(deps: StepDeps, clusterId: string): Promise<ClusterState> {
  const state = await deps.stores.events.loadState(clusterId);
  if (state.segments.size === 0) throw new UnknownCluster(clusterId);
  return state;
}

/**
 * Decide-then-append with optimistic concurrency: the events are decided on the state they
 * are appended after; a lost race re-reads and re-decides. The key names the execution, the
 * step and the state decided on, so a retried Lambda that decides the same thing writes once.
 */
export async function record(
  deps: StepDeps,
  event: TaskEvent,
  step: string,
  decideEvents: (state: ClusterState) => Promise<NewEvent[]> | NewEvent[],
): Promise<{ state: ClusterState; appended: NewEvent[] }> {
  const { clusterId } = event.input;
  for (let attempt = 0; ; attempt++) {
    const state = await loadRegistered(deps, clusterId);
    const events = await decideEvents(state);
    if (events.length === 0) return { state, appended: [] };
    try {
      await deps.stores.events.append(clusterId, events, {
        expectedSeq: state.seq,
        idempotencyKey: `${event.executionId}/${step}@${state.seq}`,
        causation: { executionId: event.executionId, state: step },
        at: deps.now().toISOString(),
        state,
      });
      return { state: await deps.stores.events.loadState(clusterId), appended: events };
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= 4) throw error;
    }
  }
}

/**
 * The answers of a cluster adapter no parser understood, by the name of what it throws, and
 * how each is kept on record: a line it could not read (MalformedOutput), a script that ended
 * in an error it does not know (CoordinatorScriptFailed: psql refused, the coordinator was
 * starting up). Matched by name, as Step Functions does, so no adapter class leaks in here.
 */
const UNREADABLE: Record<
  string,
  (error: never) => { what: string; problem: string; text: string }
> = {
  MalformedOutput: (e: {
    command: string;
    problem: string;
    line: string;
    firstLines: string[];
  }) => ({
    what: e.command,
    problem: e.problem,
    text: [e.line, ...e.firstLines].join('\n'),
  }),
  CoordinatorScriptFailed: (e: {
    what: string;
    coordinator: string;
    exitCode: number;
    stderr: string;
  }) => ({
    what: e.what,
    problem: `the script exited ${e.exitCode} on ${e.coordinator}`,
    text: e.stderr,
  }),
};

/**
 * The cluster as a step sees it: an answer the adapter did not understand is written down
 * verbatim (ClusterAnswerUnreadable) and thrown as ClusterUnreadable, which the state machine
 * retries with a bound, instead of ending the run as if the cluster had failed.
 */
function clusterOf(deps: StepDeps, event: TaskEvent): ClusterOperations {
  // Where the coordinator was when the run started (after a failover: the activated standby).
  const cluster = deps.cluster(event.input.clusterId, event.input.start?.coordinator);
  const keep = async (error: unknown): Promise<never> => {
    const kept = error instanceof Error ? UNREADABLE[error.name] : undefined;
    if (!kept) throw error;
    const { what, problem, text } = kept(error as never);
    const { incidentId } = event.input;
    await record(deps, event, 'ClusterAnswerUnreadable', (s) =>
      s.recovery?.incidentId === incidentId
        ? [
            {
              type: 'ClusterAnswerUnreadable',
              data: {
                incidentId,
                what: what.slice(0, 200),
                problem: problem.slice(0, 2000) || 'no reason given',
                text: text.slice(0, 4000),
              },
            },
          ]
        : [],
    );
    throw new ClusterUnreadable(
      `${(error as Error).message.slice(0, 1500)}; unreadable, retrying: recoverseg did not understand this answer, which says nothing about the cluster's health (every such answer is on record: recoverseg events)`,
    );
  };
  return new Proxy(cluster, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        Promise.resolve()
          .then(() => (value as (...a: unknown[]) => unknown).apply(target, args))
          .catch(keep);
    },
  });
}

/** Reads the cluster (after an FTS probe) and writes down what changed since the log's view. */
async function observe(deps: StepDeps, event: TaskEvent, step: string) {
  const cluster = clusterOf(deps, event);
  await cluster.requestFtsProbe();
  const observation = await cluster.readConfiguration();
  const recorded = await record(deps, event, step, (state) => reconcile(state, observation));
  return { ...recorded, observation };
}

/**
 * gp_stat_replication, unless a content is double faulted: then the query fails (capture 80h),
 * and the double-fault row, first in the tables that read it, decides without it.
 */
async function replicationOf(deps: StepDeps, event: TaskEvent, state: ClusterState) {
  return state.doubleFaults.length > 0 ? [] : await clusterOf(deps, event).readReplication();
}

/** Contents whose acting primary streams WAL to its mirror: the other half of "in sync". */
async function streamingContents(
  deps: StepDeps,
  event: TaskEvent,
  state: ClusterState,
): Promise<number[]> {
  const replication = await replicationOf(deps, event, state);
  return replication.filter((r) => r.state === 'streaming').map((r) => r.content);
}

/**
 * A run's first step: the cluster must be registered, and this run holds it (ClusterLocked).
 * Returns the time and the state it was registered in.
 */
export async function takeCluster(
  deps: StepDeps,
  event: TaskEvent,
): Promise<{ now: Date; state: ClusterState }> {
  const { clusterId, incidentId } = event.input;
  const now = deps.now();
  const state = await loadRegistered(deps, clusterId);
  await deps.stores.lock.acquire(
    clusterId,
    event.executionId,
    incidentId,
    Math.floor(now.getTime() / 1000),
    LOCK_SECONDS,
  );
  return { now, state };
}

export async function startRecovery(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof startResultSchema>> {
  const { incidentId, trigger, options } = event.input;
  const { now } = await takeCluster(deps, event);
  // Which rebalance policy the run follows is decided once, here, and kept on record.
  const requested = (s: ClusterState): NewEvent => ({
    type: 'RecoveryRequested',
    data: {
      incidentId,
      trigger,
      options,
      rebalance: rebalanceSettingFor({
        options,
        cluster: s.rebalancePolicy,
        trigger: trigger.source,
      }).setting,
    },
  });
  const effects: Record<(typeof START_RULES)[number]['then'], (s: ClusterState) => NewEvent[]> = {
    resume: () => [],
    supersede: (s: ClusterState): NewEvent[] => [
      {
        type: 'RecoveryFailed',
        data: {
          incidentId: s.recovery!.incidentId,
          phase: 'finish',
          reason: `abandoned: its run ended without closing it; superseded by incident ${incidentId}`,
        },
      },
      requested(s),
    ],
    request: (s: ClusterState) => [requested(s)],
  };
  const { state } = await record(deps, event, 'StartRecovery', (s) =>
    effects[decide(START_RULES, { incidentId, open: s.recovery?.incidentId }).then](s),
  );
  const { coordinator } = coordinatorRows(state.segments);
  return { at: now.toISOString(), seq: state.seq, ...(coordinator ? { coordinator } : {}) };
}

export async function detectFailures(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof detectResultSchema>> {
  const { state, appended } = await observe(deps, event, 'DetectFailures');
  const pairs = pairsOfState(state);
  return {
    at: deps.now().toISOString(),
    appended: appended.length,
    down: configurationOf(state)
      .filter((r) => r.content >= 0 && r.status === 'd')
      .map((r) => r.dbid),
    switched: pairs.filter((p) => p.primary.preferred_role !== 'p').map((p) => p.content),
    doubleFaults: [...state.doubleFaults],
  };
}

export async function checkPromotion(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof promoteResultSchema>> {
  const { state, observation } = await observe(deps, event, 'CheckPromotion');
  const context = promotionContext(state, {
    failedHosts: event.input.failedHosts,
    unresponsive: observation.unresponsive,
    notReady: observation.notReady,
    streaming: await streamingContents(deps, event, state),
  });
  const { rule, then } = settle(PROMOTION_RULES, context, {
    'double-fault': doubleFaultReport,
    pending: promotionPendingReport,
  });
  return { at: deps.now().toISOString(), verdict: then, rule };
}

export async function planRecoveryStep(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof planResultSchema>> {
  const { incidentId, options } = event.input;
  let planned: PlanItem[] = [];
  let inPlaceFailed: number[] = [];
  let decided: (typeof PLAN_RULES)[number]['then'] | undefined;
  await record(deps, event, 'PlanRecovery', (state) => {
    inPlaceFailed = inPlaceFailures(state);
    planned = planRecovery(state, options, inPlaceFailed);
    const recovery = state.recovery;
    const recovered = new Set(recovery?.recovered);
    decided = decide(PLAN_RULES, {
      dryRun: options.dryRun,
      planned: planned.length,
      // A retried PlanRecovery, or a run resumed after a restart (a new execution that has
      // run no gprecoverseg yet), finds this very plan on record with none of its segments
      // back up: it is still the plan in progress. Within a run that already ran it, the same
      // plan again means its gprecoverseg ended and a segment is down again: a new plan.
      inProgress:
        recovery?.incidentId === incidentId &&
        recovery.plan !== undefined &&
        planKey(recovery.plan) === planKey(planned) &&
        !planned.some((i) => recovered.has(i.dbid)) &&
        (recovery.started.length === 0 || event.input.operation === undefined),
    }).then;
    return decided.record ? planEvents(incidentId, planned) : [];
  });
  return {
    at: deps.now().toISOString(),
    next: decided!.next,
    planned: planned.length,
    escalated: escalatedDbids(event.input.plan?.escalated ?? [], planned, inPlaceFailed),
  };
}

/** The first poll-loop result of a gprecoverseg (or `-r`) run just started. */
const operationStarted = (
  deps: StepDeps,
  handle: OperationHandle,
): Result<typeof operationResultSchema> => ({
  at: deps.now().toISOString(),
  ...handle,
  polls: 0,
  next: 'wait',
  percent: 0,
  recovered: [],
  failed: [],
});

export async function recoverSegments(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof operationResultSchema>> {
  const { clusterId, incidentId } = event.input;
  const logged = await loadRegistered(deps, clusterId);
  const plan = logged.recovery?.incidentId === incidentId ? logged.recovery.plan : undefined;
  if (!plan || plan.length === 0)
    throw new IncrementalRecoveryFailed(
      `incident ${incidentId}: no recovery plan on record; plan before recovering`,
    );
  // Look again right before gprecoverseg runs: it must never copy from a dead or stale source.
  // A retry of a start already on record finds that run instead of starting one, so it has
  // nothing to check.
  const started = new Set(logged.recovery?.started);
  if (!plan.every((item) => started.has(item.dbid))) {
    const { state, observation } = await observe(deps, event, 'CheckSources');
    settle(SOURCE_RULES, sourceContext(state, observation, plan), {
      'double-fault': doubleFaultReport,
      'sources-unusable': sourcesReport,
      pending: sourcesPendingReport,
    });
  }
  // One operation per plan of the incident: a retried start, or a run resumed after a restart,
  // finds the one already started instead of starting another.
  const handle = await clusterOf(deps, event).startRecovery(
    plan,
    `${incidentId}#${operationPlanKey(plan)}@${logged.recovery!.plans}`,
  );
  await record(deps, event, 'RecoverSegments', (s) => {
    const startedNow = new Set(s.recovery?.started);
    return plan
      .filter((item) => !startedNow.has(item.dbid))
      .map((item): NewEvent => ({
        type: 'SegmentRecoveryStarted',
        data: { incidentId, dbid: item.dbid, type: item.type },
      }));
  });
  return operationStarted(deps, handle);
}

/** Distinguishes the plans of one incident (the first, then an escalation to full). */
const planKey = (plan: readonly PlanItem[]): string =>
  plan.map((i) => `${i.dbid}${i.type[0]}${i.target ? `@${i.target.hostname}` : ''}`).join('.');

/**
 * planKey as an operation key takes it: a plan of more than about a hundred segments is
 * named by a digest of its key (an operation key is at most 1,024 characters); a shorter one
 * keeps the readable key, so a run started before this change finds its operation again.
 */
const operationPlanKey = (plan: readonly PlanItem[]): string => {
  const key = planKey(plan);
  return key.length <= 900 ? key : createHash('sha256').update(key).digest('hex');
};

export async function checkRecovery(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof operationResultSchema>> {
  const { options, limits } = event.input;
  const previous = event.input.operation;
  if (!previous)
    throw new IncrementalRecoveryFailed('no gprecoverseg operation to check; start one first');
  const polls = previous.polls + 1;
  const status = await clusterOf(deps, event).pollOperation({
    operationId: previous.operationId,
    kind: previous.kind,
  });
  const { state } = await observe(
    deps,
    event,
    previous.kind === 'rebalance' ? 'CheckRebalance' : 'CheckRecovery',
  );
  await record(deps, event, 'RecordSegmentFailures', (s) => {
    const known = new Set(s.recovery?.failures.map((f) => `${f.dbid}:${f.type}`));
    return status.failures
      .filter((f) => !known.has(`${f.dbid}:${f.type}`))
      .filter((f) => s.segments.get(f.dbid)?.status === 'd')
      .map((f): NewEvent => ({
        type: 'SegmentRecoveryFailed',
        data: { dbid: f.dbid, type: f.type, reason: f.reason },
      }));
  });
  const percent =
    status.progress.length === 0
      ? status.done
        ? 100
        : 0
      : Math.floor(status.progress.reduce((a, p) => a + p.percent, 0) / status.progress.length);
  const summary = {
    at: deps.now().toISOString(),
    operationId: previous.operationId,
    kind: previous.kind,
    polls,
    percent,
    recovered: status.recovered,
    failed: status.failures.map((f) => f.dbid),
  };
  const context: RecoveryProgressContext = {
    kind: previous.kind,
    done: status.done,
    failures: status.failures,
    forced: options.type !== 'auto',
    escalated: event.input.plan?.escalated ?? [],
    doubleFaulted: doubleFaultedPairs(state),
    plans: state.recovery?.plans ?? 0,
    outOfPolls: polls >= limits.maxRecoveryPolls,
  };
  const { then } = settle(RECOVERY_OUTCOME_RULES, context, {
    'double-fault': doubleFaultReport,
    'recovery-timeout': () =>
      previous.kind === 'rebalance'
        ? `gprecoverseg -r still running after ${polls} polls; check gpstate -e`
        : `gprecoverseg still running after ${polls} polls (${percent}% done); check gpstate -e and the gprecoverseg log`,
    'rebalance-failed': () =>
      status.failures.map((f) => `dbid ${f.dbid}: ${f.reason}`).join('; ') +
      '; the pairs stay in their switched roles and remain protected',
    fail: () =>
      status.failures
        .map((f) => {
          const row = state.segments.get(f.dbid);
          const where = row ? ` (content ${row.content}, ${row.hostname}:${row.port})` : '';
          return `dbid ${f.dbid}${where}: ${f.type} recovery failed (${f.reason})`;
        })
        .join('; ') +
      (context.forced
        ? '; the caller forced the type, so no escalation: run again with type full'
        : ''),
  });
  return { ...summary, next: then };
}

export async function checkSync(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof syncResultSchema>> {
  const { clusterId, options, limits } = event.input;
  const now = deps.now();
  const previous = event.input.sync;
  const rebalanceDone = event.input.operation?.kind === 'rebalance';
  // A loop starts afresh after a rebalance: its resync gets the whole timeout again.
  const freshLoop = !previous || previous.next !== 'wait';
  const since = freshLoop ? now.toISOString() : previous.since;
  const polls = freshLoop ? 1 : previous.polls + 1;
  const { state, observation } = await observe(deps, event, 'CheckSync');
  const replication = await replicationOf(deps, event, state);
  const pairs = pairsOfState(state);
  const lags = replication.map((r) => r.replayLagBytes).filter((b): b is number => b !== undefined);
  const streaming = replication.filter((r) => r.state === 'streaming').map((r) => r.content);
  const setting = rebalanceSettingOf(state, options.rebalance);
  const awaiting = state.recovery?.awaitingRebalance;
  const rebalanceChecks =
    previous?.next === 'await-rebalance' ? (previous.rebalanceChecks ?? 0) + 1 : 1;
  const window = setting.policy === 'window' ? parseWindow(setting.window) : undefined;
  const unsynchronized = pairs
    .filter((p) => p.mirror && !isStreamingInSync(p, streaming))
    .map((p) => p.content);
  const unsynchronizedNow = new Set(unsynchronized);
  const walRemainingBytes = replication
    .filter((r) => unsynchronizedNow.has(r.content))
    .reduce((a, r) => a + (r.walRemainingBytes ?? 0), 0);
  const { rule, then } = settle(
    SYNC_RULES,
    {
      pairs,
      streaming,
      notReady: observation.notReady.map((n) => n.dbid),
      doubleFaulted: doubleFaultedPairs(state),
      plans: state.recovery?.plans ?? 0,
      rebalanceRequested: options.rebalance,
      rebalanceDone,
      maxReplayLagBytes: lags.length === 0 ? undefined : Math.max(...lags),
      replayLagLimitBytes: options.replayLagGb * GB,
      rebalance: {
        policy: setting.policy,
        approved: state.recovery?.approved !== undefined,
        windowOpen: window !== undefined && isWindowOpen(window, now.getTime()),
        waitedTooLong:
          (awaiting !== undefined && now.getTime() >= Date.parse(awaiting.until)) ||
          (previous?.next === 'await-rebalance' && rebalanceChecks > limits.maxRebalanceChecks),
      },
      outOfTime:
        now.getTime() - Date.parse(since) > limits.syncTimeoutSeconds * 1000 ||
        polls >= limits.maxSyncPolls,
    },
    {
      'double-fault': doubleFaultReport,
      fail: (c) =>
        `${c.pairs
          .filter((p) => p.mirror?.status === 'd')
          .map((p) => `dbid ${p.mirror!.dbid} (content ${p.content})`)
          .join(
            ', ',
          )} failed again after ${MAX_PLANS_PER_INCIDENT} recovery plans in this incident; investigate the host before recovering again`,
      'sync-timeout': (_c, why) =>
        `content ${unsynchronized.join(', ') || '(none)'}: mirrors not synchronized after ${polls} checks since ${since} (${walRemainingBytes} WAL bytes remaining; ${why})`,
    },
  );
  const { incidentId } = event.input;
  const { then: milestones } = decide(MILESTONE_RULES, {
    redundant: unsynchronized.length === 0 && observation.notReady.length === 0,
    balanced: pairs.every(isInPreferredRoles),
    planned: (state.recovery?.plans ?? 0) > 0,
    rebalanceDone,
    redundantOnRecord: state.recovery?.redundantAt !== undefined,
    rebalancedOnRecord: state.recovery?.rebalancedAt !== undefined,
  });
  await record(deps, event, 'RecordMilestones', (s) =>
    s.recovery?.incidentId === incidentId
      ? milestones.map((type): NewEvent => ({ type, data: { incidentId } }))
      : [],
  );
  const result = {
    at: now.toISOString(),
    since,
    polls,
    next: then,
    rule,
    unsynchronized,
    walRemainingBytes,
  };
  if (then !== 'await-rebalance') return result;
  const until = awaiting?.until ?? rebalanceDeadline(setting, now, limits.rebalanceWaitSeconds);
  const { appended } = await record(deps, event, 'AwaitRebalance', (s) =>
    s.recovery?.incidentId === event.input.incidentId && !s.recovery.awaitingRebalance
      ? [
          {
            type: 'RebalanceAwaitingApproval',
            data: { incidentId: event.input.incidentId, setting, until },
          },
        ]
      : [],
  );
  if (appended.length > 0)
    await deps.notifier.notify({
      clusterId,
      incidentId: event.input.incidentId,
      status: 'awaiting-rebalance',
      reason: awaitingReason(clusterId, setting, until),
    });
  return {
    ...result,
    rebalanceChecks,
    waitSeconds: rebalanceWaitSeconds(
      setting,
      now,
      Date.parse(awaiting?.since ?? now.toISOString()),
      Date.parse(until),
      event.input.waits,
    ),
  };
}

/** The setting on record for the run; runs requested before policies rebalance at once. */
function rebalanceSettingOf(state: ClusterState, rebalance: boolean): RebalanceSetting {
  return state.recovery?.rebalance ?? { policy: rebalance ? 'immediate' : 'never' };
}

/** How long a run waits: for an approval, its limit; for a window, the end of its next opening. */
function rebalanceDeadline(setting: RebalanceSetting, now: Date, waitSeconds: number): string {
  if (setting.policy === 'window')
    return new Date(nextOpening(parseWindow(setting.window), now.getTime()).closes).toISOString();
  return new Date(now.getTime() + waitSeconds * 1000).toISOString();
}

/**
 * Seconds until the next look: pollSeconds at first, growing with the time waited (a tenth
 * of it) up to approvalPollSeconds (an hour before a window opens), never past the deadline
 * or the window's opening. Some 700 checks cover two days.
 */
function rebalanceWaitSeconds(
  setting: RebalanceSetting,
  now: Date,
  since: number,
  until: number,
  waits: { pollSeconds: number; approvalPollSeconds: number },
): number {
  const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));
  const opensIn =
    setting.policy === 'window'
      ? seconds(nextOpening(parseWindow(setting.window), now.getTime()).opens - now.getTime())
      : Infinity;
  const cap =
    setting.policy === 'window'
      ? Math.max(3600, waits.approvalPollSeconds)
      : waits.approvalPollSeconds;
  const growing = Math.max(waits.pollSeconds, Math.floor(seconds(now.getTime() - since) / 10));
  return Math.min(growing, cap, opensIn, seconds(until - now.getTime()));
}

/** What the operator reads while the run waits: the cluster is safe, and what to run. */
export function awaitingReason(
  clusterId: string,
  setting: RebalanceSetting,
  until: string,
): string {
  const why =
    setting.policy === 'window'
      ? `it waits for the maintenance window ${setting.window}`
      : 'it waits for an operator';
  return (
    `every pair is in sync again (the cluster is redundant), with acting primaries off their preferred hosts; ` +
    `gprecoverseg -r cancels every query in flight, so ${why} until ${until}: ` +
    `approve with recoverseg approve --cluster ${clusterId} (or POST /clusters/${clusterId}/rebalance-approval)`
  );
}

export async function rebalanceSegments(
  deps: StepDeps,
  event: TaskEvent,
): Promise<Result<typeof operationResultSchema>> {
  const { clusterId, incidentId, options } = event.input;
  // A run may rebalance again after re-planning a segment that failed meanwhile; the plan
  // count tells those apart, and stays put when this step is retried or its run resumed.
  const { recovery } = await loadRegistered(deps, clusterId);
  const handle = await clusterOf(deps, event).startRebalance(
    { replayLagGb: options.replayLagGb },
    `${incidentId}#rebalance@${recovery?.plans ?? 0}`,
  );
  return operationStarted(deps, handle);
}

export async function finishRecovery(deps: StepDeps, event: TaskEvent) {
  const { clusterId, incidentId, options } = event.input;
  const completedAt = deps.now().toISOString();
  const { then: outcome } = decide(FINISH_RULES, {
    dryRun: options.dryRun,
    unbalanced: event.input.sync?.next === 'unbalanced',
    planned: event.input.plan?.planned ?? 0,
    rebalanced: event.input.operation?.kind === 'rebalance',
  });
  const note = OUTCOME_NOTES[outcome];
  const { state } = await record(deps, event, 'FinishRecovery', async (s) => {
    if (s.recovery?.incidentId !== incidentId) return [];
    const timings = incidentTimings(
      await deps.stores.events.read(clusterId, { afterSeq: Math.max(0, s.seq - 5000) }),
      incidentId,
      completedAt,
      new Set([...s.segments.values()].filter((r) => r.preferred_role === 'p').map((r) => r.dbid)),
    );
    return [
      {
        type: 'RecoveryCompleted',
        data: { incidentId, outcome, timings, ...(note ? { note } : {}) },
      },
    ];
  });
  await deps.stores.lock.release(clusterId, event.executionId);
  await deps.notifier.notify({ clusterId, incidentId, status: 'succeeded', outcome });
  return {
    status: 'succeeded' as const,
    outcome,
    seq: state.seq,
    timings: state.lastIncident?.timings,
  };
}

/** The reason a Lambda error carries: Step Functions wraps it as JSON in `Cause`. */
function reasonOf(cause: string | undefined, error: string): string {
  if (!cause) return error;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

export async function recordFailure(deps: StepDeps, event: TaskEvent) {
  const { clusterId, incidentId, errors = {} } = event.input;
  const [caught] = Object.entries(errors) as [Phase, { Error: string; Cause?: string }][];
  const { then } = decide(FAILURE_PHASE_RULES, {
    caught: caught?.[0],
    operation: event.input.operation?.kind,
  });
  const phase: Phase = then === 'as-caught' ? caught![0] : then;
  const error = caught?.[1].Error ?? 'UnknownError';
  const reason = reasonOf(caught?.[1].Cause, error).slice(0, 2000);
  const registered = (await deps.stores.events.loadState(clusterId)).segments.size > 0;
  if (registered)
    await record(deps, event, 'RecordFailure', (s) =>
      event.input.kind === 'coordinator'
        ? failoverFailed(incidentId, reason)(s)
        : event.input.kind === 'standby' && event.input.standby
          ? [
              {
                type: 'StandbyInitializationFailed',
                data: { incidentId, location: event.input.standby, reason },
              },
            ]
          : // A run refused at the door (cluster locked) never owned the recovery in the log.
            s.recovery?.incidentId === incidentId
            ? [{ type: 'RecoveryFailed', data: { incidentId, phase, reason } }]
            : [],
    );
  await deps.stores.lock.release(clusterId, event.executionId);
  await deps.notifier.notify({ clusterId, incidentId, status: 'failed', phase, reason });
  return { phase, error, cause: reason };
}
