import * as z from '#domain/zod.ts';
import { doubleFaultReport, doubleFaultedPairs } from '#domain/decisions.ts';
import type { ClusterState } from '#domain/evolve.ts';
import { clusterIdSchema, type RecoveryPolicy } from '#domain/events.ts';
import type { DoubleFault, NotReady } from '#domain/observation.ts';
import { always, type Table } from '#domain/rules.ts';
import {
  isInPreferredRoles,
  isSynchronized,
  pairsOf,
  type Pair,
  type SegmentRow,
} from '#domain/segment.ts';

/*
 * The watcher: one look at a cluster every interval (EventBridge Scheduler on AWS, `serve`
 * on premises), turned into events only when something changed, and into a recovery, a
 * notice or nothing by the cluster's recovery policy. Its decisions are the rows below.
 */

/** What EventBridge Scheduler sends WatchCluster: the one cluster to look at, nothing else. */
export const watchRequestSchema = z.strictObject({ clusterId: clusterIdSchema });
export type WatchRequest = z.infer<typeof watchRequestSchema>;

/**
 * A cluster registered without a policy starts nothing on its own: `gprecoverseg` copies
 * whole data directories and `-r` cancels every query in flight, so recoverseg acts alone
 * only once a DBA has chosen `auto` for that cluster. Until then every failure is detected,
 * recorded and notified, and the operator starts the recovery (one command, or one request).
 */
export const DEFAULT_RECOVERY_POLICY: RecoveryPolicy = 'notify';

export const recoveryPolicyOf = (state: ClusterState): RecoveryPolicy =>
  state.recoveryPolicy ?? DEFAULT_RECOVERY_POLICY;

/** One read of the cluster: its catalog and which acting primaries answer (the port's answer). */
export interface Look {
  segments: readonly SegmentRow[];
  unresponsive: readonly number[];
  notReady: readonly NotReady[];
  doubleFaults: readonly DoubleFault[];
}

/** What a look counts, as the metrics publish it (per cluster). */
export interface LookCounts {
  /** Segments (content >= 0) marked down. */
  segmentsDown: number;
  /** Pairs whose catalog does not show both copies in sync. */
  pairsNotInSync: number;
  /** Contents whose acting primary is not their preferred primary (FTS failed them over). */
  contentsSwitched: number;
  /** Contents with no live copy. */
  doubleFaults: number;
}

export function lookCounts(look: Look): LookCounts {
  const pairs = pairsOf(look.segments);
  return {
    segmentsDown: look.segments.filter((r) => r.content >= 0 && r.status === 'd').length,
    pairsNotInSync: pairs.filter((p) => p.mirror && !isSynchronized(p)).length,
    contentsSwitched: pairs.filter((p) => !isInPreferredRoles(p)).length,
    doubleFaults: look.doubleFaults.length,
  };
}

/**
 * Every segment up, every pair in sync in its preferred roles, every acting primary answering
 * and ready: what `gpstate -e` calls "All segments are running normally".
 */
export const isWhole = (look: Look): boolean =>
  Object.values(lookCounts(look)).every((n) => n === 0) &&
  look.unresponsive.length === 0 &&
  look.notReady.length === 0;

/** Acting primaries that do not answer while their pair is in sync: FTS will fail them over. */
const failingOver = (look: Look): number[] =>
  look.unresponsive.filter((dbid) => !look.doubleFaults.some((f) => f.primaryDbid === dbid));

/* ---------- Does the look request an FTS probe? ---------- */

export interface ProbeContext {
  /** The first read shows something the log does not hold. */
  changed: boolean;
  /** Acting primaries that do not answer and that FTS has not failed over yet. */
  failingOver: readonly number[];
}

export const probeContext = (look: Look, changed: boolean): ProbeContext => ({
  changed,
  failingOver: failingOver(look),
});

export const WATCH_PROBE_RULES: Table<ProbeContext, 'probe' | 'settled'> = [
  {
    rule: 'the read shows a change the log does not hold: request an FTS probe and read again, so that one look records all FTS has to write about it (every segment of a dead host, not the first one)',
    when: (c) => c.changed,
    then: 'probe',
  },
  {
    rule: 'an acting primary does not answer and FTS has not failed it over yet: request an FTS probe and read again, rather than wait for its next probe interval',
    when: (c) => c.failingOver.length > 0,
    then: 'probe',
  },
  {
    rule: 'otherwise: the read stands; no probe (a probe makes FTS scan every segment)',
    when: always,
    then: 'settled',
  },
];

/* ---------- What the watcher does about what it saw ---------- */

/**
 * Who holds the cluster: a live run, a run that is gone (its lock or its recovery left
 * behind: a stopped execution, a killed `serve`), or nobody.
 */
export type RunHolder = 'live' | 'gone' | 'none';

export interface WatchContext {
  holder: RunHolder;
  /** The look saw the cluster whole. */
  whole: boolean;
  /** The log says so already (ClusterSeenWhole since the last fault). */
  wholeOnRecord: boolean;
  policy: RecoveryPolicy;
  doubleFaulted: readonly Pair[];
  /** This look records a double fault the log did not hold. */
  newDoubleFault: boolean;
  /** This look records a fault the log did not hold (a mirror down, a failover, a double fault). */
  newFault: boolean;
  /** A recovery run ended after the last fault on record: that run answered it. */
  answered: boolean;
}

/**
 * Each outcome but `leave-to-run` records what the look changed (nothing when nothing did);
 * `seen-whole` adds ClusterSeenWhole, `notify*` a notice, `start` a recovery.
 */
export type WatchAction =
  'leave-to-run' | 'seen-whole' | 'record' | 'notify-double-fault' | 'notify' | 'start';

export const WATCH_RULES: Table<WatchContext, WatchAction> = [
  {
    rule: 'a live run holds the cluster: it reads and records the cluster itself (two observers would interleave their reads); record nothing, start nothing',
    when: (c) => c.holder === 'live',
    then: 'leave-to-run',
  },
  {
    rule: 'the cluster is whole and the log does not say so: record what changed and that it is whole again (once, not at every look)',
    when: (c) => c.whole && !c.wholeOnRecord,
    then: 'seen-whole',
  },
  {
    rule: 'the cluster is whole, as on record: nothing to record',
    when: (c) => c.whole,
    then: 'record',
  },
  {
    rule: 'the recovery policy is off: record what changed; start nothing, notify nothing (the CloudWatch alarms still do)',
    when: (c) => c.policy === 'off',
    then: 'record',
  },
  {
    rule: 'a content has no live copy (a double fault), newly recorded: never start a recovery; notify the way out (gpstop -a -M fast, gpstart -a, then a recovery)',
    when: (c) => c.newDoubleFault,
    then: 'notify-double-fault',
  },
  {
    rule: 'a double fault is on record (its notice went out when it was recorded): never start a recovery; an operator restarts the cluster',
    when: (c) => c.doubleFaulted.length > 0,
    then: 'record',
  },
  {
    rule: 'the policy is notify (the default) and this look recorded a new fault: notify what failed and how to start the recovery',
    when: (c) => c.policy === 'notify' && c.newFault,
    then: 'notify',
  },
  {
    rule: 'the policy is notify: the fault was notified when it was recorded; nothing more',
    when: (c) => c.policy === 'notify',
    then: 'record',
  },
  {
    rule: 'a recovery ended after the last fault on record (it failed, was cancelled, or left the roles switched): it answered that fault; start nothing until a new fault (an operator decides)',
    when: (c) => c.answered,
    then: 'record',
  },
  {
    rule: 'the policy is auto: start a recovery through the same starter as the API (one run per cluster; a gone holder is closed on record first)',
    when: always,
    then: 'start',
  },
];

/** The log says the cluster is whole: seen whole, and no fault recorded since. */
export const wholeOnRecord = (state: ClusterState): boolean =>
  state.watch?.seenWhole !== undefined && state.watch.brokenAt === undefined;

/**
 * The context of WATCH_RULES: `before` is the log as the look found it, `after` the log with
 * what the look would record (reconcile's events) folded on.
 */
export function watchContext(c: {
  before: ClusterState;
  after: ClusterState;
  look: Look;
  holder: RunHolder;
}): WatchContext {
  const { before, after } = c;
  const lastFault = after.watch?.lastFault;
  const runEnded = after.watch?.runEndedSeq;
  return {
    holder: c.holder,
    whole: isWhole(c.look),
    wholeOnRecord: wholeOnRecord(after),
    policy: recoveryPolicyOf(after),
    doubleFaulted: doubleFaultedPairs(after),
    newDoubleFault: after.doubleFaults.some((content) => !before.doubleFaults.includes(content)),
    newFault: lastFault !== undefined && lastFault.seq !== before.watch?.lastFault?.seq,
    answered: runEnded !== undefined && (lastFault === undefined || runEnded > lastFault.seq),
  };
}

/**
 * The incident a watcher's recovery runs as, named after the log's head once the look has
 * recorded what it saw: looks that see nothing new ask for the same execution name (Step
 * Functions starts it once), and a new fault or a closed run moves the head to a new one.
 */
export const watchIncidentId = (after: ClusterState): string => `watch-${after.seq}`;

/**
 * When the cluster was last known whole: `now` while it is (or while the log still says so: a
 * failure FTS has not written yet), else when the first fault after it was seen whole was
 * recorded. Unknown until a look has seen it whole once.
 */
export function lastKnownWhole(state: ClusterState, whole: boolean): 'now' | string | undefined {
  if (whole || wholeOnRecord(state)) return 'now';
  return state.watch?.brokenAt?.at;
}

/** When the cluster was last whole, as the status route shows it. */
export const wholeness = (state: ClusterState) => ({
  wholeOnRecord: wholeOnRecord(state),
  /** When a look last saw it become whole. */
  seenWholeAt: state.watch?.seenWhole?.at ?? null,
  /** When the first fault after that was recorded: it was whole until then. */
  wholeUntil: state.watch?.brokenAt?.at ?? null,
});

const segmentWords = (r: SegmentRow) =>
  `dbid ${r.dbid} (content ${r.content}, ${r.hostname}:${r.port})`;

/** What a notice says the look saw, and what an operator can do under each policy. */
export function detectionReport(clusterId: string, state: ClusterState, look: Look): string {
  const pairs = pairsOf(look.segments);
  const down = look.segments.filter((r) => r.content >= 0 && r.status === 'd');
  const switched = pairs.filter((p) => !isInPreferredRoles(p));
  const unsynced = pairs.filter((p) => p.mirror && p.mirror.status === 'u' && !isSynchronized(p));
  const seen = [
    ...(down.length > 0 ? [`down: ${down.map(segmentWords).join(', ')}`] : []),
    ...(switched.length > 0
      ? [
          `acting primary off its preferred role: ${switched.map((p) => segmentWords(p.primary)).join(', ')}`,
        ]
      : []),
    ...(unsynced.length > 0
      ? [`not in sync: content ${unsynced.map((p) => p.content).join(', ')}`]
      : []),
  ];
  return (
    `cluster ${clusterId}: ${seen.join('; ') || 'not whole'}; ` +
    `its recovery policy is ${recoveryPolicyOf(state)}, so nothing was started: ` +
    `start a recovery with recoverseg recover --cluster ${clusterId} (or POST /clusters/${clusterId}/recoveries), ` +
    `or let recoverseg start them: PUT /clusters/${clusterId}/recovery-policy {"recoveryPolicy":"auto"}`
  );
}

/** A double fault's notice: every content with no live copy, each with its way out. */
export const doubleFaultNotice = (clusterId: string, state: ClusterState): string =>
  `cluster ${clusterId}: ${doubleFaultReport({ doubleFaulted: doubleFaultedPairs(state) })}`;
