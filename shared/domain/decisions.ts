import { InvalidTopology } from '#domain/errors.ts';
import type { ClusterState } from '#domain/evolve.ts';
import type {
  PlanItem,
  RebalancePolicy,
  RebalanceSetting,
  RecoveryOptions,
  RecoveryType,
  RunPhase,
} from '#domain/events.ts';
import { configurationProblems } from '#domain/invariants.ts';
import type { NotReady, NotReadyAnswer } from '#domain/observation.ts';
import { always, decide, type Rule, type Table } from '#domain/rules.ts';
import {
  isInPreferredRoles,
  isSynchronized,
  pairsOf,
  type Pair,
  type SegmentRow,
} from '#domain/segment.ts';
import type {
  OperationResult,
  PromoteResult,
  SyncResult,
  WorkflowInput,
} from '#domain/step-contract.ts';

/*
 * Every decision the workflow makes about the cluster, as tables of rows (see rules.ts). A
 * row's `then` is either the step's next (an enum of step-contract.ts the state machine
 * branches on) or a stop (verdicts.ts maps it to the error the step throws).
 */

/* ---------- The row every look at a live cluster starts with ---------- */

/**
 * Written once, shared by every table that decides on a live cluster: a content with no live
 * copy stops the run before anything else is decided.
 */
export const DOUBLE_FAULT_RULE: Rule<{ doubleFaulted: readonly Pair[] }, 'double-fault'> = {
  rule: 'a content lost its primary and its mirror was not in sync (a double fault): stop; never promote, recover or copy from a dead or stale copy',
  when: (c) => c.doubleFaulted.length > 0,
  then: 'double-fault',
};

/**
 * What the operator reads when a content has no live copy, with the way out that worked on a
 * real 6.24.3 cluster (captures 83-88): a restart brings up what can come up, then recovery.
 */
export const doubleFaultMessage = (pair: Pair): string => {
  const mirror = pair.mirror
    ? `mirror dbid ${pair.mirror.dbid} ${pair.mirror.status === 'd' ? 'down' : 'not in sync'}`
    : 'no mirror';
  return (
    `content ${pair.content}: double fault (acting primary dbid ${pair.primary.dbid} on ${pair.primary.hostname}:${pair.primary.port} does not answer, ${mirror}); ` +
    `run gpstop -a -M fast, then gpstart -a, then start a recovery again (gprecoverseg -a, then gprecoverseg -ar); ` +
    `recoverseg never recovers from a dead or stale copy`
  );
};

/** The DoubleFault error's message: every double-faulted content, each with its way out. */
export const doubleFaultReport = (c: { doubleFaulted: readonly Pair[] }): string =>
  c.doubleFaulted.map(doubleFaultMessage).join('; ');

export const doubleFaultedPairs = (state: ClusterState): Pair[] =>
  pairsOf(state.segments.values()).filter((p) => state.doubleFaults.includes(p.content));

/* ---------- May the request move segments? ---------- */

export const RELOCATION_RULES: Table<
  Pick<RecoveryOptions, 'type' | 'targetHosts'>,
  'refuse' | 'accept'
> = [
  {
    rule: 'an incremental or differential recovery asks to move segments to another host: refuse (gprecoverseg refuses -p without a full recovery)',
    when: (o) => o.type !== 'auto' && o.type !== 'full' && Object.keys(o.targetHosts).length > 0,
    then: 'refuse',
  },
  {
    rule: 'otherwise: accept (a segment moved to another host is always recovered full)',
    when: always,
    then: 'accept',
  },
];

/**
 * Why the request may not move segments, if it may not: the one wording of that rule for the
 * API, the CLI, scenarios and the plan.
 */
export const relocationProblems = (options: Pick<RecoveryOptions, 'type' | 'targetHosts'>) =>
  decide(RELOCATION_RULES, options).then === 'refuse'
    ? [
        `${options.type} recovery cannot move segments to another host; gprecoverseg refuses -p without a full recovery`,
      ]
    : [];

/* ---------- How to recover one segment ---------- */

export interface SegmentToRecover {
  pair: Pair;
  options: RecoveryOptions;
  /** An incremental or differential recovery of its mirror already failed in this incident. */
  inPlaceFailed: boolean;
  /** The pair, when its content is double faulted. */
  doubleFaulted: readonly Pair[];
}

type TypeChoice = { type: RecoveryType | 'forced'; relocate: boolean };

export const RECOVERY_TYPE_RULES: Table<SegmentToRecover, 'none' | 'double-fault' | TypeChoice> = [
  {
    rule: 'the mirror is up, or the content has none: nothing to recover',
    when: (s) => s.pair.mirror?.status !== 'd',
    then: 'none',
  },
  DOUBLE_FAULT_RULE,
  {
    rule: 'its host is being replaced: full recovery on the new host (gprecoverseg -F -p)',
    when: (s) => s.pair.mirror!.hostname in s.options.targetHosts,
    then: { type: 'full', relocate: true },
  },
  {
    rule: 'the caller forced a type: use it, never escalate',
    when: (s) => s.options.type !== 'auto',
    then: { type: 'forced', relocate: false },
  },
  {
    rule: 'an in-place recovery already failed (WAL recycled, data directory gone): full',
    when: (s) => s.inPlaceFailed,
    then: { type: 'full', relocate: false },
  },
  {
    rule: 'otherwise: incremental in place (pg_rewind)',
    when: always,
    then: { type: 'incremental', relocate: false },
  },
];

export class RecoveryNotPossible extends InvalidTopology {
  override name = 'RecoveryNotPossible';
}

/**
 * The gprecoverseg plan for every failed segment: one per content, from its acting primary.
 * `inPlaceFailed` lists dbids whose incremental/differential recovery failed in this incident.
 */
export function planRecovery(
  state: ClusterState,
  options: RecoveryOptions,
  inPlaceFailed: readonly number[] = [],
): PlanItem[] {
  const problems: string[] = [];
  const items: PlanItem[] = [];
  const relocated = [...state.segments.values()];
  const position = new Map(relocated.map((row, i) => [row.dbid, i]));
  for (const pair of pairsOf(state.segments.values())) {
    const { then } = decide(RECOVERY_TYPE_RULES, {
      pair,
      options,
      inPlaceFailed: pair.mirror !== undefined && inPlaceFailed.includes(pair.mirror.dbid),
      doubleFaulted: state.doubleFaults.includes(pair.content) ? [pair] : [],
    });
    if (then === 'none') continue;
    if (then === 'double-fault') {
      problems.push(doubleFaultMessage(pair));
      continue;
    }
    const row = pair.mirror!;
    const item: PlanItem = {
      dbid: row.dbid,
      content: pair.content,
      sourceDbid: pair.primary.dbid,
      type: then.type === 'forced' ? (options.type as RecoveryType) : then.type,
    };
    if (then.relocate) {
      const hostname = options.targetHosts[row.hostname]!;
      item.target = { hostname, address: hostname, port: row.port, datadir: row.datadir };
      relocated[position.get(row.dbid)!] = { ...row, ...item.target };
    }
    items.push(item);
  }
  // Unknown hosts are refused where the request enters (API, scenario); here a host may
  // legitimately be gone already, its segments moved by an earlier round of this incident.
  problems.push(...relocationProblems(options));
  // The problems the moves make, not those the configuration had (a problem naming dbid 20 is
  // not dbid 2's).
  const moved = new Set(items.filter((i) => i.target).map((i) => i.dbid));
  problems.push(
    ...configurationProblems(relocated).filter((p) =>
      [...p.matchAll(/\bdbid (\d+)\b/g)].some(([, dbid]) => moved.has(Number(dbid))),
    ),
  );
  if (problems.length > 0) throw new RecoveryNotPossible(problems);
  return items;
}

/** dbids this run has planned as full after an in-place failure: never escalated twice. */
export const escalatedDbids = (
  before: readonly number[],
  planned: readonly PlanItem[],
  inPlaceFailed: readonly number[],
): number[] => [
  ...new Set([
    ...before,
    ...planned
      .filter((i) => i.type === 'full' && inPlaceFailed.includes(i.dbid))
      .map((i) => i.dbid),
  ]),
];

/** dbids whose incremental or differential recovery failed in the recovery in progress. */
export const inPlaceFailures = (state: ClusterState): number[] =>
  (state.recovery?.failures ?? []).filter((f) => f.type !== 'full').map((f) => f.dbid);

/* ---------- Did FTS promote every mirror it had to? ---------- */

export interface PromotionContext {
  doubleFaulted: Pair[];
  /** Acting primaries on hosts known to be down that FTS has not yet failed over. */
  awaitingFailover: SegmentRow[];
  /**
   * Pairs the catalog shows in sync with no streaming walsender: a member is gone and FTS has
   * not said so yet (for 30 s after a mirror dies it stays `u` and its pair `s`: captures 22-29).
   */
  awaitingMarkDown: Pair[];
  /**
   * Acting primaries alive but not ready as primaries: a mirror FTS has marked `p` answers
   * "mirror ready" until its promotion ends, about 5 s (capture 103); one starting up rejects.
   */
  notReady: (SegmentRow & { answer: NotReadyAnswer })[];
}

export const PROMOTION_RULES: Table<
  PromotionContext,
  PromoteResult['verdict'] | 'pending' | 'double-fault'
> = [
  DOUBLE_FAULT_RULE,
  {
    rule: 'a primary on a failed host, or one that does not answer, still acts as primary: wait for FTS',
    when: (c) => c.awaitingFailover.length > 0,
    then: 'pending',
  },
  {
    rule: 'a pair shown in sync does not stream: wait until FTS marks the dead segment down, so one recovery covers every dead segment',
    when: (c) => c.awaitingMarkDown.length > 0,
    then: 'pending',
  },
  {
    rule: 'an acting primary is alive but not ready (a promoted mirror still answers "mirror ready", or it starts up): wait for its promotion to end',
    when: (c) => c.notReady.length > 0,
    then: 'pending',
  },
  { rule: 'every content has a running acting primary', when: always, then: 'promoted' },
];

/** A pair counts as synchronized only when the catalog says so and its walsender streams. */
export const isStreamingInSync = (pair: Pair, streaming: readonly number[]): boolean =>
  isSynchronized(pair) && streaming.includes(pair.content);

/** What the cluster showed besides its catalog, for the promotion check. */
export interface PromotionLook {
  /** Hosts known to be down (an EC2 state change). */
  failedHosts: readonly string[];
  /** Acting primaries that did not answer a connection. */
  unresponsive: readonly number[];
  /** Contents whose acting primary has a walsender in state `streaming`. */
  streaming: readonly number[];
  /** Acting primaries alive but not ready as primaries yet. */
  notReady: readonly NotReady[];
}

/** The acting primaries of `state` that `notReady` names, each with its answer. */
const notReadyRows = (state: ClusterState, notReady: readonly NotReady[]) =>
  notReady.flatMap(({ dbid, answer }) => {
    const row = state.segments.get(dbid);
    return row && row.role === 'p' ? [{ ...row, answer }] : [];
  });

/** How an operator reads a not-ready answer. */
const NOT_READY_WORDS: Record<NotReadyAnswer, string> = {
  'mirror-ready': 'still answers "mirror ready": its promotion has not ended',
  rejecting: 'rejects connections: it is starting up or in recovery',
};

const notReadyMessage = (r: SegmentRow & { answer: NotReadyAnswer }) =>
  `acting primary dbid ${r.dbid} (content ${r.content}, ${r.hostname}:${r.port}) ${NOT_READY_WORDS[r.answer]}`;

export function promotionContext(state: ClusterState, look: PromotionLook): PromotionContext {
  const pairs = pairsOf(state.segments.values());
  const faulted = (p: Pair) => state.doubleFaults.includes(p.content);
  // Sets, not lists: a host group of 8,000 segments is looked up once per pair.
  const failedHosts = new Set(look.failedHosts);
  const unresponsive = new Set(look.unresponsive);
  const streaming = new Set(look.streaming);
  // A silent acting primary of a pair in sync, or one on a host known to be down: FTS fails it
  // over on its next probe.
  const failingOver = new Set(
    pairs.filter(
      (p) =>
        !faulted(p) && (failedHosts.has(p.primary.hostname) || unresponsive.has(p.primary.dbid)),
    ),
  );
  return {
    doubleFaulted: pairs.filter(faulted),
    awaitingFailover: [...failingOver].map((p) => p.primary),
    awaitingMarkDown: pairs.filter(
      (p) => !failingOver.has(p) && isSynchronized(p) && !streaming.has(p.content),
    ),
    notReady: notReadyRows(state, look.notReady),
  };
}

/** What PromotionPending says: which failover or mark-down FTS still owes. */
export const promotionPendingReport = (c: PromotionContext): string =>
  [
    ...c.awaitingFailover.map(
      (r) => `FTS has not yet failed over dbid ${r.dbid} (content ${r.content}, ${r.hostname})`,
    ),
    ...c.awaitingMarkDown.map(
      (p) =>
        `content ${p.content} shows in sync but does not stream (primary dbid ${p.primary.dbid}, mirror dbid ${p.mirror!.dbid}): waiting for FTS to mark the dead segment down (gp_fts_mark_mirror_down_grace_period)`,
    ),
    ...c.notReady.map(notReadyMessage),
  ].join('; ') + '; probing again';

/* ---------- May gprecoverseg copy from the planned sources? ---------- */

export interface SourceContext {
  doubleFaulted: readonly Pair[];
  /** Each plan item with its content's acting primary now, and whether that one answers. */
  sources: {
    item: PlanItem;
    actingPrimary: SegmentRow | undefined;
    answers: boolean;
    /** Alive but not ready as a primary yet (its promotion has not ended), if so. */
    notReady?: NotReadyAnswer;
  }[];
}

const moved = (s: SourceContext['sources'][number]) => s.actingPrimary?.dbid !== s.item.sourceDbid;

export const SOURCE_RULES: Table<
  SourceContext,
  'double-fault' | 'sources-unusable' | 'pending' | 'recover'
> = [
  DOUBLE_FAULT_RULE,
  {
    rule: 'a planned source is no longer the acting primary of its content (FTS failed it over since the plan): plan again',
    when: (c) => c.sources.some(moved),
    then: 'sources-unusable',
  },
  {
    rule: 'a planned source does not answer: never copy from it',
    when: (c) => c.sources.some((s) => !s.answers),
    then: 'sources-unusable',
  },
  {
    rule: 'a planned source is alive but not ready (a promoted mirror still answers "mirror ready"): wait for its promotion to end, then copy',
    when: (c) => c.sources.some((s) => s.notReady !== undefined),
    then: 'pending',
  },
  {
    rule: 'every source is the answering acting primary of its content: run gprecoverseg',
    when: always,
    then: 'recover',
  },
];

export function sourceContext(
  state: ClusterState,
  look: { unresponsive: readonly number[]; notReady: readonly NotReady[] },
  plan: readonly PlanItem[],
): SourceContext {
  const pairs = new Map(pairsOf(state.segments.values()).map((p) => [p.content, p]));
  const unresponsive = new Set(look.unresponsive);
  const notReadyOf = new Map(look.notReady.map((n) => [n.dbid, n.answer]));
  return {
    doubleFaulted: doubleFaultedPairs(state),
    sources: plan.map((item) => {
      const actingPrimary = pairs.get(item.content)?.primary;
      const notReady = actingPrimary && notReadyOf.get(actingPrimary.dbid);
      return {
        item,
        actingPrimary,
        answers: actingPrimary !== undefined && !unresponsive.has(actingPrimary.dbid),
        ...(notReady ? { notReady } : {}),
      };
    }),
  };
}

/** What PromotionPending says when a source is not ready yet. */
export const sourcesPendingReport = (c: SourceContext): string =>
  c.sources
    .flatMap(({ item, actingPrimary: p, notReady }) =>
      p && notReady
        ? [`content ${item.content}: source ${notReadyMessage({ ...p, answer: notReady })}`]
        : [],
    )
    .join('; ') + '; gprecoverseg waits for it';

/** What SourceUnavailable says, item by item in plan order. */
export const sourcesReport = (c: SourceContext): string =>
  c.sources
    .flatMap(({ item, actingPrimary: p, answers }) =>
      moved({ item, actingPrimary: p, answers })
        ? [
            `content ${item.content}: the plan copies dbid ${item.dbid} from dbid ${item.sourceDbid}, but the acting primary is now dbid ${p?.dbid ?? '?'}; plan again`,
          ]
        : answers
          ? []
          : [
              `content ${item.content}: source dbid ${p!.dbid} (${p!.hostname}:${p!.port}) does not answer; recoverseg does not copy from it`,
            ],
    )
    .join('; ');

/* ---------- After polling gprecoverseg (or gprecoverseg -r) ---------- */

/** An incident's plans: the first, escalations, and re-plans for segments that failed again. */
export const MAX_PLANS_PER_INCIDENT = 5;

export interface RecoveryProgressContext {
  kind: OperationResult['kind'];
  done: boolean;
  failures: { dbid: number; needsFull: boolean }[];
  /** The caller forced a type: failures are final. */
  forced: boolean;
  /** dbids already escalated to full in this incident. */
  escalated: readonly number[];
  doubleFaulted: readonly Pair[];
  plans: number;
  /** The run polled as often as limits.maxRecoveryPolls allows. */
  outOfPolls: boolean;
}

export const RECOVERY_OUTCOME_RULES: Table<
  RecoveryProgressContext,
  OperationResult['next'] | 'double-fault' | 'recovery-timeout' | 'rebalance-failed' | 'fail'
> = [
  DOUBLE_FAULT_RULE,
  {
    rule: 'gprecoverseg (or gprecoverseg -r) still runs after limits.maxRecoveryPolls polls: stop; gpstate -e and its log tell why',
    when: (c) => !c.done && c.outOfPolls,
    then: 'recovery-timeout',
  },
  {
    rule: 'gprecoverseg (or gprecoverseg -r) is still running: wait and poll again',
    when: (c) => !c.done,
    then: 'wait',
  },
  {
    rule: 'gprecoverseg -r failed: stop; the pairs stay in their switched roles and remain protected',
    when: (c) => c.kind === 'rebalance' && c.failures.length > 0,
    then: 'rebalance-failed',
  },
  {
    rule: 'gprecoverseg -r finished: check again that every pair is in sync',
    when: (c) => c.kind === 'rebalance',
    then: 'sync',
  },
  {
    rule: 'every segment came up: wait for the mirrors to catch up',
    when: (c) => c.failures.length === 0,
    then: 'sync',
  },
  {
    rule: 'in-place recoveries failed and policy is auto: plan a full recovery of those segments',
    when: (c) =>
      !c.forced &&
      c.plans < MAX_PLANS_PER_INCIDENT &&
      c.failures.every((f) => f.needsFull && !c.escalated.includes(f.dbid)),
    then: 'replan',
  },
  { rule: 'otherwise: the recovery failed', when: always, then: 'fail' },
];

/* ---------- When gprecoverseg -r may run ---------- */

export interface RebalancePolicyContext {
  options: Pick<RecoveryOptions, 'rebalance' | 'rebalancePolicy'>;
  /** The cluster's own policy, when it has one. */
  cluster: RebalanceSetting | undefined;
  trigger: WorkflowInput['trigger']['source'];
}

/** Which policy a run follows: the request's, the cluster's, or the default for its trigger. */
export type PolicySource = 'never' | 'request' | 'cluster' | RebalancePolicy;

export const REBALANCE_POLICY_RULES: Table<RebalancePolicyContext, PolicySource> = [
  {
    rule: 'the request asks for no rebalance (--no-rebalance): never',
    when: (c) => !c.options.rebalance,
    then: 'never',
  },
  {
    rule: 'the request names a policy: follow it',
    when: (c) => c.options.rebalancePolicy !== undefined,
    then: 'request',
  },
  {
    rule: 'the cluster has a policy (a maintenance window, say): follow it',
    when: (c) => c.cluster !== undefined,
    then: 'cluster',
  },
  {
    rule: 'an alarm, an EC2 event or the watcher started the run, maybe at peak hours: wait for an operator, as gprecoverseg -r cancels every query in flight',
    when: (c) => c.trigger === 'alarm' || c.trigger === 'ec2' || c.trigger === 'watch',
    then: 'approval',
  },
  {
    rule: 'otherwise an operator asked (CLI, API, scenario): rebalance as soon as every pair is in sync',
    when: always,
    then: 'immediate',
  },
];

/** A request for a window with no window of its own or of the cluster's. */
export class RebalanceWindowMissing extends InvalidTopology {
  override name = 'RebalanceWindowMissing';
}

/** The rebalance setting a run follows, from REBALANCE_POLICY_RULES. */
export function rebalanceSettingFor(
  c: RebalancePolicyContext & { options: Pick<RecoveryOptions, 'rebalanceWindow'> },
): { rule: string; setting: RebalanceSetting } {
  const { rule, then } = decide(REBALANCE_POLICY_RULES, c);
  const policy =
    then === 'request' ? c.options.rebalancePolicy! : then === 'cluster' ? c.cluster!.policy : then;
  if (policy !== 'window') return { rule, setting: { policy } };
  const window =
    c.options.rebalanceWindow ?? (c.cluster?.policy === 'window' ? c.cluster.window : undefined);
  if (!window)
    throw new RebalanceWindowMissing([
      'rebalance policy window needs a window (e.g. "Sun 02:00-04:00 UTC"): name one with the request or register the cluster with one',
    ]);
  return { rule, setting: { policy, window } };
}

/** Where the run's rebalance gate stands once every pair is in sync. */
export interface RebalanceGate {
  policy: RebalancePolicy;
  approved: boolean;
  windowOpen: boolean;
  /** The run waited as long as it may (its deadline passed, or its checks ran out). */
  waitedTooLong: boolean;
}

/* ---------- After checking replication ---------- */

export type SyncNext = SyncResult['next'] | 'double-fault' | 'fail' | 'sync-timeout';

export interface SyncContext {
  pairs: Pair[];
  /** Contents whose acting primary has a walsender in state `streaming`. */
  streaming: readonly number[];
  /** Acting primaries alive but not ready as primaries (a rebalance's promotions). */
  notReady: readonly number[];
  doubleFaulted: readonly Pair[];
  rebalanceRequested: boolean;
  rebalanceDone: boolean;
  /** Largest replay lag of any mirror, bytes; undefined when unknown. */
  maxReplayLagBytes: number | undefined;
  replayLagLimitBytes: number;
  plans: number;
  rebalance: RebalanceGate;
  /** The sync wait lasted limits.syncTimeoutSeconds, or took limits.maxSyncPolls checks. */
  outOfTime: boolean;
}

const allSynchronized = (c: SyncContext) =>
  c.pairs.every((p) => !p.mirror || isStreamingInSync(p, c.streaming));
const outOfPreferredRoles = (c: SyncContext) => c.pairs.some((p) => !isInPreferredRoles(p));
const tooFarBehind = (c: SyncContext) =>
  c.maxReplayLagBytes !== undefined && c.maxReplayLagBytes >= c.replayLagLimitBytes;
const mirrorDown = (c: SyncContext) => c.pairs.some((p) => p.mirror?.status === 'd');

export const SYNC_RULES: Table<SyncContext, SyncNext> = [
  DOUBLE_FAULT_RULE,
  {
    rule: 'a segment failed again while mirrors caught up: plan its recovery',
    when: (c) => mirrorDown(c) && c.plans < MAX_PLANS_PER_INCIDENT,
    then: 'replan',
  },
  {
    rule: 'segments keep failing: give up after as many plans as an incident allows',
    when: mirrorDown,
    then: 'fail',
  },
  {
    rule: 'some pair is still not synchronized when the sync wait runs out: stop',
    when: (c) => !allSynchronized(c) && c.outOfTime,
    then: 'sync-timeout',
  },
  {
    rule: 'some pair is not synchronized yet (catalog not s, or no streaming walsender): wait',
    when: (c) => !allSynchronized(c),
    then: 'wait',
  },
  {
    rule: 'an acting primary still answers "mirror ready" (its promotion, a rebalance\'s too, has not ended) when the sync wait runs out: stop',
    when: (c) => c.notReady.length > 0 && c.outOfTime,
    then: 'sync-timeout',
  },
  {
    rule: 'an acting primary still answers "mirror ready" or starts up: wait until it accepts connections',
    when: (c) => c.notReady.length > 0,
    then: 'wait',
  },
  {
    rule: 'roles are where they belong, or no rebalance was asked for (policy never): finish',
    when: (c) =>
      !outOfPreferredRoles(c) ||
      !c.rebalanceRequested ||
      c.rebalance.policy === 'never' ||
      c.rebalanceDone,
    then: 'finish',
  },
  {
    rule: 'a mirror still replays too far behind for gprecoverseg -r when the sync wait runs out: stop',
    when: (c) => tooFarBehind(c) && c.outOfTime,
    then: 'sync-timeout',
  },
  {
    rule: 'a mirror replays too far behind for gprecoverseg -r: wait',
    when: tooFarBehind,
    then: 'wait',
  },
  {
    rule: 'the policy is immediate: rebalance now',
    when: (c) => c.rebalance.policy === 'immediate',
    then: 'rebalance',
  },
  {
    rule: 'an operator approved the rebalance: run it now (even outside a window)',
    when: (c) => c.rebalance.approved,
    then: 'rebalance',
  },
  {
    rule: 'the maintenance window is open: rebalance',
    when: (c) => c.rebalance.policy === 'window' && c.rebalance.windowOpen,
    then: 'rebalance',
  },
  {
    rule: 'no approval or window came in time: finish redundant but unbalanced, on record (never a failure)',
    when: (c) => c.rebalance.waitedTooLong,
    then: 'unbalanced',
  },
  {
    rule: 'otherwise: the cluster is redundant; wait for an operator approval or the window',
    when: always,
    then: 'await-rebalance',
  },
];

/* ---------- What a sync check puts on record of the incident ---------- */

export interface MilestoneContext {
  /** Every pair up, in sync in the catalog and streaming, every acting primary ready. */
  redundant: boolean;
  /** Every pair in its preferred roles. */
  balanced: boolean;
  /** This incident planned a recovery: it restores redundancy it lost. */
  planned: boolean;
  /** This incident's gprecoverseg -r ended. */
  rebalanceDone: boolean;
  redundantOnRecord: boolean;
  rebalancedOnRecord: boolean;
}

/**
 * "Redundant again" and "rebalanced" are what this incident's run saw, never what the log
 * folds into after an earlier incident: a pair resynchronized or switched back while no run
 * looked is reconciled on record, but not credited to the incident that found it so.
 */
export const MILESTONE_RULES: Table<
  MilestoneContext,
  readonly ('ClusterRedundant' | 'ClusterRebalanced')[]
> = [
  {
    rule: 'some pair is not up, in sync and streaming, or an acting primary is not ready: nothing to record',
    when: (c) => !c.redundant,
    then: [],
  },
  {
    rule: 'this incident recovered segments and every pair is up, in sync and streaming: redundant again, on record (once per plan)',
    when: (c) => c.planned && !c.redundantOnRecord,
    then: ['ClusterRedundant'],
  },
  {
    rule: "this incident's gprecoverseg -r ended and every pair is in its preferred roles, in sync and streaming: rebalanced, on record",
    when: (c) => c.rebalanceDone && c.balanced && !c.rebalancedOnRecord,
    then: ['ClusterRebalanced'],
  },
  { rule: 'otherwise: nothing new to record', when: always, then: [] },
];

/* ---------- Where a run is, in words ---------- */

export interface RunPhaseContext {
  planned: boolean;
  /** Planned segments not yet back up. */
  recovering: number;
  /** Pairs not in sync (catalog). */
  unsynchronized: number;
  /** Pairs whose acting primary is not the preferred one. */
  switched: number;
  awaitingRebalance: boolean;
  approved: boolean;
}

export const RUN_PHASE_RULES: Table<RunPhaseContext, RunPhase> = [
  {
    rule: 'the pairs are in sync and gprecoverseg -r waits for an operator or a window',
    when: (c) => c.awaitingRebalance && !c.approved && c.unsynchronized === 0,
    then: 'awaiting-rebalance',
  },
  {
    rule: 'no plan yet: the run reads the cluster and waits for FTS to promote the mirrors',
    when: (c) => !c.planned && c.unsynchronized > 0,
    then: 'detecting',
  },
  {
    rule: 'planned segments are not up yet: gprecoverseg runs',
    when: (c) => c.recovering > 0,
    then: 'recovering',
  },
  {
    rule: 'segments are up, mirrors catch up on WAL',
    when: (c) => c.unsynchronized > 0,
    then: 'synchronizing',
  },
  {
    rule: 'every pair in sync, roles still switched: gprecoverseg -r',
    when: (c) => c.switched > 0,
    then: 'rebalancing',
  },
  { rule: 'otherwise: the run is writing its outcome', when: always, then: 'finishing' },
];

/** The phase of the recovery in progress, or undefined when there is none. */
export function runPhase(state: ClusterState): RunPhase | undefined {
  const recovery = state.recovery;
  if (!recovery) return undefined;
  const pairs = pairsOf(state.segments.values()).filter((p) => p.mirror);
  return decide(RUN_PHASE_RULES, {
    planned: recovery.plan !== undefined,
    recovering: (recovery.plan ?? []).filter((i) => state.segments.get(i.dbid)?.status === 'd')
      .length,
    unsynchronized: pairs.filter((p) => !isSynchronized(p)).length,
    switched: pairs.filter((p) => !isInPreferredRoles(p)).length,
    awaitingRebalance: recovery.awaitingRebalance !== undefined,
    approved: recovery.approved !== undefined,
  }).then;
}

export const decidePromotion = (c: PromotionContext) => decide(PROMOTION_RULES, c);
export const decideAfterSyncCheck = (c: SyncContext) => decide(SYNC_RULES, c);
