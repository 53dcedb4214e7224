import {
  CHANGES_CONTENT_MEMBERS,
  COORDINATOR_FOLD,
  type CoordinatorRecord,
} from '#domain/coordinator-fold.ts';
import { InvalidTransition } from '#domain/errors.ts';
import type {
  EventOf,
  EventType,
  NewEvent,
  PlanItem,
  RebalanceSetting,
  RecoveryOptions,
  RecoveryPolicy,
} from '#domain/events.ts';
import {
  configurationProblems,
  isValidPair,
  locationProblems,
  pairProblems,
} from '#domain/invariants.ts';
import {
  isInPreferredRoles,
  isSynchronized,
  pairsOf,
  sortRows,
  type Pair,
  type SegmentRow,
} from '#domain/segment.ts';

/** The recovery the cluster is in, as the event log tells it. */
export interface ActiveRecovery {
  incidentId: string;
  requestedAt: string | undefined;
  trigger: EventOf<'RecoveryRequested'>['data']['trigger'];
  options: RecoveryOptions;
  plan: PlanItem[] | undefined;
  /** Set while the parts of a plan larger than one event are folded (they come together). */
  planParts?: { parts: number; received: number };
  /** How many plans this incident has had (the first, escalations, re-plans). */
  plans: number;
  started: number[];
  recovered: number[];
  failures: { dbid: number; type: string; reason: string }[];
  /** The rebalance policy this run follows (absent in recoveries requested before policies). */
  rebalance?: RebalanceSetting;
  /** Set once every pair is in sync and `gprecoverseg -r` waits for an operator or a window. */
  awaitingRebalance?: { since: string | undefined; until: string };
  approved?: { by: string; at: string | undefined };
  /** The last answer of the cluster a step could not read, while it is the log's last word. */
  unreadable?: { what: string; problem: string; at: string | undefined; seq: number };
  /** When this incident's run last saw the cluster redundant again (cleared by a new plan). */
  redundantAt?: string;
  /** When this incident's rebalance was seen complete. */
  rebalancedAt?: string;
}

export interface IncidentOutcome {
  incidentId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  at: string | undefined;
  outcome?: string;
  note?: string;
  by?: string;
  phase?: string;
  reason?: string;
  timings?: EventOf<'RecoveryCompleted'>['data']['timings'];
}

/** A point in the log: the seq of an event and when it was appended. */
export interface LogMark {
  seq: number;
  at: string | undefined;
}

/**
 * What the log tells the watcher about the cluster's health over time, so that a look which
 * sees nothing new writes nothing (see watch.ts).
 */
export interface WatchRecord {
  /** The last ClusterSeenWhole. */
  seenWhole?: LogMark;
  /** The first fault recorded after it: the cluster was whole until then. */
  brokenAt?: LogMark;
  /** The last fault on record: a mirror marked down, a mirror promoted, a double fault. */
  lastFault?: LogMark;
  /** Where the last recovery run ended (completed, failed or cancelled). */
  runEndedSeq?: number;
}

/**
 * Everything the log says about one cluster. `segments` is gp_segment_configuration; the rest
 * is the summary Greenplum does not keep (double faults, the recovery in progress).
 */
export interface ClusterState {
  seq: number;
  segments: ReadonlyMap<number, SegmentRow>;
  registration: { parts: number; received: number } | undefined;
  doubleFaults: readonly number[];
  recovery: ActiveRecovery | undefined;
  lastIncident: IncidentOutcome | undefined;
  /** The cluster's rebalance policy (absent: the defaults of REBALANCE_POLICY_RULES). */
  rebalancePolicy?: RebalanceSetting;
  /** The cluster's recovery-start policy (absent: DEFAULT_RECOVERY_POLICY of watch.ts). */
  recoveryPolicy?: RecoveryPolicy;
  /** Faults, run ends and wholeness on record (absent: none yet). */
  watch?: WatchRecord;
  /** The standby's last observation, the coordinator's loss and its failover (absent: none). */
  coordinator?: CoordinatorRecord;
}

export const emptyState = (): ClusterState => ({
  seq: 0,
  segments: new Map(),
  registration: undefined,
  doubleFaults: [],
  recovery: undefined,
  lastIncident: undefined,
});

/** A state under construction: owned by one fold, so it may be changed in place. */
interface Draft {
  seq: number;
  segments: Map<number, SegmentRow>;
  registration: ClusterState['registration'];
  doubleFaults: number[];
  recovery: ActiveRecovery | undefined;
  lastIncident: IncidentOutcome | undefined;
  rebalancePolicy?: RebalanceSetting;
  recoveryPolicy?: RecoveryPolicy;
  watch?: WatchRecord;
  coordinator?: CoordinatorRecord;
  /**
   * The rows this draft made, shared with no state and no event: an event changes them in
   * place rather than copying the row again (a recovery changes a row three or four times).
   * Dropped when the draft becomes a state (stateOf), whose rows are then never changed.
   */
  made: Set<SegmentRow>;
}

export type FoldableEvent = NewEvent & { seq?: number; at?: string };

type Rule<T extends EventType> = (
  draft: Draft,
  data: EventOf<T>['data'],
  at: string | undefined,
) => void;

const fail = (message: string): never => {
  throw new InvalidTransition(message);
};

function registered(draft: Draft): void {
  if (draft.segments.size === 0) fail('the cluster is not registered; register it first');
}

function segment(draft: Draft, dbid: number): SegmentRow {
  return draft.segments.get(dbid) ?? fail(`dbid ${dbid} is not in the configuration`);
}

/**
 * dbids per content. Which dbids make up a content changes only at registration, so a fold
 * (one segments map, changed in place) builds this once instead of scanning every segment
 * for every event.
 */
const membersByContent = new WeakMap<ReadonlyMap<number, SegmentRow>, Map<number, number[]>>();

function contentIndex(segments: ReadonlyMap<number, SegmentRow>): Map<number, number[]> {
  let index = membersByContent.get(segments);
  if (!index) {
    index = new Map();
    for (const row of segments.values()) {
      const members = index.get(row.content);
      if (members) members.push(row.dbid);
      else index.set(row.content, [row.dbid]);
    }
    membersByContent.set(segments, index);
  }
  return index;
}

/** The acting primary and the mirror of a content (as pairsOf has them), if it has a primary. */
function pairIn(
  segments: ReadonlyMap<number, SegmentRow>,
  content: number,
  members: readonly number[],
): Pair | undefined {
  let primary: SegmentRow | undefined;
  let mirror: SegmentRow | undefined;
  for (const dbid of members) {
    const row = segments.get(dbid)!;
    if (row.role === 'p') primary = row;
    else mirror = row;
  }
  return primary && { content, primary, mirror };
}

function pairOf(draft: Draft, content: number): Pair {
  return (
    pairIn(draft.segments, content, contentIndex(draft.segments).get(content) ?? []) ??
    fail(`content ${content} is not in the configuration`)
  );
}

/**
 * The contents (ascending) whose pair is `off`: the checks of the whole cluster, over the
 * per-content index rather than pairsOf's sorted copy of every pair.
 */
function contentsWhere(draft: Draft, off: (pair: Pair) => boolean): number[] {
  const contents: number[] = [];
  contentIndex(draft.segments).forEach((members, content) => {
    const pair = content === -1 ? undefined : pairIn(draft.segments, content, members);
    if (pair && off(pair)) contents.push(content);
  });
  return contents.sort((a, b) => a - b);
}

/**
 * The contents of a plan's items, kept beside the draft's plan while its parts are folded:
 * each part is checked against the parts before it without reading them all again.
 */
const contentsByPlan = new WeakMap<readonly PlanItem[], Set<number>>();

function plannedContents(plan: readonly PlanItem[]): Set<number> {
  let contents = contentsByPlan.get(plan);
  if (!contents) contentsByPlan.set(plan, (contents = new Set(plan.map((item) => item.content))));
  return contents;
}

function mirrorPair(draft: Draft, content: number): Pair & { mirror: SegmentRow } {
  const pair = pairOf(draft, content);
  if (!pair.mirror) return fail(`content ${content} has no mirror`);
  return pair as Pair & { mirror: SegmentRow };
}

/**
 * A copy of `row` for the draft to own. Its fields in one order, whatever order an event's or
 * a stored state's came in: the fold reads every row with one shape.
 */
function made(draft: Draft, row: SegmentRow): SegmentRow {
  const copy: SegmentRow = {
    dbid: row.dbid,
    content: row.content,
    role: row.role,
    preferred_role: row.preferred_role,
    mode: row.mode,
    status: row.status,
    port: row.port,
    hostname: row.hostname,
    address: row.address,
    datadir: row.datadir,
  };
  draft.made.add(copy);
  draft.segments.set(copy.dbid, copy);
  return copy;
}

/** `row` (the draft's row of its dbid) to be changed in place: the draft's own copy of it. */
const own = (draft: Draft, row: SegmentRow): SegmentRow =>
  draft.made.has(row) ? row : made(draft, row);

/**
 * Where `content` is, or would go, in the draft's ascending list of double faults (its own
 * copy, see toDraft): a rack's worth of double faults is kept without a copy or a scan per event.
 */
function faultIndex(faults: readonly number[], content: number): number {
  let low = 0;
  let high = faults.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (faults[middle]! < content) low = middle + 1;
    else high = middle;
  }
  return low;
}

function activeRecovery(draft: Draft, incidentId: string): ActiveRecovery {
  const recovery = draft.recovery;
  if (!recovery) return fail(`no recovery is in progress (incident ${incidentId})`);
  if (recovery.incidentId !== incidentId)
    return fail(`incident ${incidentId} is not the recovery in progress (${recovery.incidentId})`);
  return recovery;
}

/**
 * How each event changes the catalog, in Greenplum's terms. Every rule checks the state it
 * starts from, so an event out of place is refused rather than projected.
 */
const RULES: { [T in EventType]: Rule<T> } = {
  ...COORDINATOR_FOLD,

  ClusterRegistered(draft, { segments, part, parts }) {
    const expected = (draft.registration?.received ?? 0) + 1;
    if (draft.registration === undefined && draft.segments.size > 0)
      fail('the cluster is already registered');
    if (part !== expected || (draft.registration && draft.registration.parts !== parts))
      fail(`registration part ${part} of ${parts} is out of order (expected part ${expected})`);
    for (const row of segments) {
      if (draft.segments.has(row.dbid)) fail(`dbid ${row.dbid} appears twice`);
      made(draft, row);
    }
    membersByContent.delete(draft.segments);
    draft.registration = part === parts ? undefined : { parts, received: part };
    if (part === parts) {
      const problems = configurationProblems([...draft.segments.values()]);
      if (problems.length > 0) fail(`invalid registration: ${problems.join('; ')}`);
    }
  },

  RebalancePolicySet(draft, { setting }) {
    registered(draft);
    draft.rebalancePolicy = setting;
  },

  RecoveryPolicySet(draft, { policy }) {
    registered(draft);
    draft.recoveryPolicy = policy;
  },

  SegmentMarkedDown(draft, { dbid }) {
    const row = segment(draft, dbid);
    if (row.content < 0) fail(`dbid ${dbid} is a coordinator; FTS does not probe it`);
    if (row.role === 'p')
      fail(
        `dbid ${dbid} is the acting primary of content ${row.content}; FTS promotes its mirror instead of marking it down`,
      );
    if (row.status === 'd') fail(`dbid ${dbid} (content ${row.content} mirror) is already down`);
    const { primary } = pairOf(draft, row.content);
    const down = own(draft, row);
    down.status = 'd';
    down.mode = 'n';
    own(draft, primary).mode = 'n';
  },

  MirrorPromoted(draft, { content, promotedDbid, demotedDbid }) {
    const { primary, mirror } = mirrorPair(draft, content);
    if (mirror.dbid !== promotedDbid || primary.dbid !== demotedDbid)
      fail(
        `content ${content}: promotion of dbid ${promotedDbid} over dbid ${demotedDbid} does not match the pair (primary dbid ${primary.dbid}, mirror dbid ${mirror.dbid})`,
      );
    if (mirror.status !== 'u' || mirror.mode !== 's')
      fail(
        `content ${content}: mirror dbid ${mirror.dbid} is not in sync (${mirror.status},${mirror.mode}); promoting it would lose data`,
      );
    const promoted = own(draft, mirror);
    const demoted = own(draft, primary);
    promoted.role = 'p';
    promoted.mode = 'n';
    promoted.status = 'u';
    demoted.role = 'm';
    demoted.mode = 'n';
    demoted.status = 'd';
  },

  DoubleFaultDetected(draft, { content, primaryDbid, mirrorDbid }) {
    const { primary, mirror } = mirrorPair(draft, content);
    if (primary.dbid !== primaryDbid || mirror.dbid !== mirrorDbid)
      fail(
        `content ${content}: double fault names primary dbid ${primaryDbid} and mirror dbid ${mirrorDbid}, but the pair is primary dbid ${primary.dbid}, mirror dbid ${mirror.dbid}`,
      );
    // The catalog may still show the pair in sync: when both die together, FTS never saw the
    // mirror fall behind. The fault is a fact either way; nothing in the table changes.
    const index = faultIndex(draft.doubleFaults, content);
    if (draft.doubleFaults[index] !== content) draft.doubleFaults.splice(index, 0, content);
  },

  DoubleFaultCleared(draft, { content, primaryDbid }) {
    const { primary } = mirrorPair(draft, content);
    if (primary.dbid !== primaryDbid)
      fail(
        `content ${content}: double fault cleared for acting primary dbid ${primaryDbid}, but the acting primary is dbid ${primary.dbid}`,
      );
    const index = faultIndex(draft.doubleFaults, content);
    if (draft.doubleFaults[index] !== content)
      fail(`content ${content}: no double fault on record to clear`);
    draft.doubleFaults.splice(index, 1);
  },

  RecoveryRequested(draft, { incidentId, trigger, options, rebalance }, at) {
    if (draft.recovery)
      fail(
        `incident ${incidentId}: recovery of incident ${draft.recovery.incidentId} is still in progress`,
      );
    draft.recovery = {
      incidentId,
      requestedAt: at,
      trigger,
      options,
      plan: undefined,
      plans: 0,
      started: [],
      recovered: [],
      failures: [],
      ...(rebalance ? { rebalance } : {}),
    };
  },

  RecoveryPlanned(draft, { incidentId, items, part = 1, parts = 1 }) {
    const recovery = activeRecovery(draft, incidentId);
    const expected = (recovery.planParts?.received ?? 0) + 1;
    if (part !== expected || (recovery.planParts && recovery.planParts.parts !== parts))
      fail(
        `incident ${incidentId}: plan part ${part} of ${parts} is out of order (expected part ${expected})`,
      );
    const earlier = part === 1 ? undefined : recovery.plan!;
    const planned = earlier ? plannedContents(earlier) : new Set<number>();
    const contents = new Set<number>();
    for (const item of items) {
      const row = segment(draft, item.dbid);
      if (planned.has(row.content) || contents.has(row.content))
        fail(`content ${row.content} appears twice in the plan`);
      contents.add(row.content);
      if (row.role !== 'm' || row.status !== 'd')
        fail(`dbid ${item.dbid} is not a failed mirror (role ${row.role}, status ${row.status})`);
      const source = segment(draft, item.sourceDbid);
      if (source.content !== row.content || source.role !== 'p')
        fail(`dbid ${item.sourceDbid} is not the acting primary of content ${row.content}`);
    }
    const planParts = part < parts ? { parts, received: part } : undefined;
    if (earlier) {
      // The draft's own plan (see toDraft): a part is appended, not the plan so far copied.
      for (const item of items) {
        earlier.push(item);
        planned.add(item.content);
      }
      draft.recovery = { ...recovery, planParts };
      return;
    }
    // A new plan (an escalation) starts afresh, but earlier failures stay: they are why
    // the policy chose this plan.
    // Redundancy is to be restored again: whatever an earlier plan restored was lost since.
    draft.recovery = {
      ...recovery,
      redundantAt: undefined,
      plan: [...items],
      planParts,
      plans: recovery.plans + 1,
      started: [],
      recovered: [],
    };
  },

  SegmentRecoveryStarted(draft, { incidentId, dbid }) {
    const recovery = activeRecovery(draft, incidentId);
    const row = segment(draft, dbid);
    if (row.role !== 'm' || row.status !== 'd')
      fail(`dbid ${dbid} is not a failed mirror (role ${row.role}, status ${row.status})`);
    recovery.started.push(dbid);
  },

  SegmentRecovered(draft, { dbid, relocatedTo }) {
    const row = segment(draft, dbid);
    if (row.role !== 'm' || row.status !== 'd')
      fail(`dbid ${dbid} is not a failed mirror (role ${row.role}, status ${row.status})`);
    const recovered = Object.assign(own(draft, row), relocatedTo);
    recovered.status = 'u';
    recovered.mode = 'n';
    if (relocatedTo) {
      const problems = locationProblems(draft.segments.values(), recovered);
      if (problems.length > 0) fail(`relocation of dbid ${dbid}: ${problems.join('; ')}`);
    }
    draft.recovery?.recovered.push(dbid);
  },

  SegmentRelocated(draft, { dbid, to }) {
    const row = segment(draft, dbid);
    if (row.role !== 'm' || row.status !== 'd')
      fail(`dbid ${dbid} is not a failed mirror (role ${row.role}, status ${row.status})`);
    const moved = Object.assign(own(draft, row), to);
    const problems = locationProblems(draft.segments.values(), moved);
    if (problems.length > 0) fail(`relocation of dbid ${dbid}: ${problems.join('; ')}`);
  },

  SegmentRecoveryFailed(draft, { dbid, type, reason }) {
    const row = segment(draft, dbid);
    if (row.role !== 'm' || row.status !== 'd')
      fail(`dbid ${dbid} is not a failed mirror (role ${row.role}, status ${row.status})`);
    draft.recovery?.failures.push({ dbid, type, reason });
  },

  PairSynchronized(draft, { content }) {
    const { primary, mirror } = mirrorPair(draft, content);
    if (mirror.status !== 'u' || primary.mode !== 'n')
      fail(
        `content ${content}: pair (primary dbid ${primary.dbid}, mirror dbid ${mirror.dbid}) is not up and resynchronizing`,
      );
    own(draft, primary).mode = 's';
    own(draft, mirror).mode = 's';
    const index = faultIndex(draft.doubleFaults, content);
    if (draft.doubleFaults[index] === content) draft.doubleFaults.splice(index, 1);
  },

  ClusterAnswerUnreadable(draft, { incidentId, what, problem }, at) {
    const recovery = activeRecovery(draft, incidentId);
    draft.recovery = { ...recovery, unreadable: { what, problem, at, seq: draft.seq + 1 } };
  },

  ClusterRedundant(draft, { incidentId }, at) {
    const recovery = activeRecovery(draft, incidentId);
    const degraded = contentsWhere(draft, (p) => p.mirror !== undefined && !isSynchronized(p));
    if (degraded.length > 0)
      fail(
        `incident ${incidentId}: content ${degraded.join(', ')} is not in sync; the cluster is not redundant`,
      );
    draft.recovery = { ...recovery, redundantAt: at };
  },

  ClusterRebalanced(draft, { incidentId }, at) {
    const recovery = activeRecovery(draft, incidentId);
    const off = contentsWhere(
      draft,
      (p) => p.mirror !== undefined && (!isSynchronized(p) || !isInPreferredRoles(p)),
    );
    if (off.length > 0)
      fail(
        `incident ${incidentId}: content ${off.join(', ')} is not in sync in its preferred roles; the cluster is not rebalanced`,
      );
    draft.recovery = { ...recovery, rebalancedAt: at };
  },

  RebalanceAwaitingApproval(draft, { incidentId, until }, at) {
    const recovery = activeRecovery(draft, incidentId);
    const switched = contentsWhere(draft, (p) => p.primary.preferred_role !== 'p');
    if (switched.length === 0)
      fail(
        `incident ${incidentId}: every acting primary is its preferred primary; no rebalance to wait for`,
      );
    draft.recovery = { ...recovery, awaitingRebalance: { since: at, until } };
  },

  RebalanceApproved(draft, { incidentId, by }, at) {
    const recovery = activeRecovery(draft, incidentId);
    if (recovery.approved)
      fail(`incident ${incidentId}: the rebalance was already approved by ${recovery.approved.by}`);
    draft.recovery = { ...recovery, approved: { by, at } };
  },

  RecoveryCompleted(draft, { incidentId, timings, outcome, note }, at) {
    activeRecovery(draft, incidentId);
    draft.recovery = undefined;
    draft.lastIncident = {
      incidentId,
      status: 'succeeded',
      at,
      timings,
      ...(outcome ? { outcome } : {}),
      ...(note ? { note } : {}),
    };
  },

  RecoveryFailed(draft, { incidentId, phase, reason }, at) {
    activeRecovery(draft, incidentId);
    draft.recovery = undefined;
    draft.lastIncident = { incidentId, status: 'failed', at, phase, reason };
  },

  RecoveryCancelled(draft, { incidentId, by, reason }, at) {
    activeRecovery(draft, incidentId);
    draft.recovery = undefined;
    draft.lastIncident = { incidentId, status: 'cancelled', at, by, reason };
  },

  ClusterSeenWhole(draft, _data, at) {
    registered(draft);
    // Written after the events that explain what the look saw: the log must agree it is whole.
    const off = contentsWhere(
      draft,
      (p) =>
        p.primary.status === 'd' ||
        (p.mirror !== undefined && !isSynchronized(p)) ||
        !isInPreferredRoles(p) ||
        draft.doubleFaults[faultIndex(draft.doubleFaults, p.content)] === p.content,
    );
    if (off.length > 0)
      fail(
        `content ${off.join(', ')} is down, not in sync or switched on record; the cluster cannot have been seen whole`,
      );
    const watch: WatchRecord = { ...draft.watch, seenWhole: { seq: draft.seq + 1, at } };
    delete watch.brokenAt;
    draft.watch = watch;
  },
};

/** Events that leave the cluster short of a copy or off its roles: what a failure is dated by. */
const FAULTS: ReadonlySet<EventType> = new Set([
  'SegmentMarkedDown',
  'MirrorPromoted',
  'DoubleFaultDetected',
]);
export const RUN_ENDS: ReadonlySet<EventType> = new Set([
  'RecoveryCompleted',
  'RecoveryFailed',
  'RecoveryCancelled',
]);

/**
 * Keeps the watcher's record of faults and run ends, whoever wrote them (the watcher, a run's
 * steps): the first fault after the cluster was seen whole dates when it stopped being whole.
 */
function keepWatchRecord(draft: Draft, type: EventType, seq: number, at: string | undefined): void {
  if (FAULTS.has(type)) {
    const mark = { seq, at };
    const watch = draft.watch ?? {};
    const brokenAt = watch.brokenAt ?? (watch.seenWhole ? mark : undefined);
    draft.watch = { ...watch, lastFault: mark, ...(brokenAt ? { brokenAt } : {}) };
  } else if (RUN_ENDS.has(type)) draft.watch = { ...draft.watch, runEndedSeq: seq };
}

/** The content whose rows an event touches: the pair invariant is re-checked for it only. */
function touchedContent(draft: Draft, event: NewEvent): number | undefined {
  switch (event.type) {
    case 'SegmentMarkedDown':
    case 'SegmentRecovered':
    case 'SegmentRelocated':
      return draft.segments.get(event.data.dbid)?.content;
    case 'MirrorPromoted':
    case 'PairSynchronized':
      return event.data.content;
    default:
      return undefined;
  }
}

function applyInPlace(draft: Draft, event: FoldableEvent): void {
  const seq = event.seq ?? draft.seq + 1;
  if (seq !== draft.seq + 1)
    fail(`event seq ${seq} does not follow seq ${draft.seq}: the log has a gap or a duplicate`);
  const rule = RULES[event.type] as Rule<EventType> | undefined;
  if (!rule) fail(`unknown event type ${String(event.type)}`);
  const planParts = draft.recovery?.planParts;
  if (planParts && event.type !== 'RecoveryPlanned')
    fail(
      `incident ${draft.recovery!.incidentId}: plan part ${planParts.received + 1} of ${planParts.parts} is missing; ${event.type} cannot come before it`,
    );
  rule!(draft, event.data as never, event.at);
  if (CHANGES_CONTENT_MEMBERS.has(event.type)) membersByContent.delete(draft.segments);
  keepWatchRecord(draft, event.type, seq, event.at);
  const content = touchedContent(draft, event);
  if (content !== undefined && content >= 0) {
    const pair = pairOf(draft, content);
    if (!isValidPair(pair)) fail(`${event.type} would leave ${pairProblems(pair).join('; ')}`);
  }
  draft.seq = seq;
}

/**
 * The fields a fold changes in place are copied (a recovery's lists grow by one per event, a
 * plan by one part, the double faults by one content: a copy per event would make an
 * 8,000-segment recovery quadratic); the rest are replaced, never changed.
 */
const toDraft = (
  state: ClusterState,
  segments: Map<number, SegmentRow> = new Map(state.segments),
): Draft => ({
  ...state,
  segments,
  doubleFaults: [...state.doubleFaults],
  recovery: state.recovery && {
    ...state.recovery,
    plan: state.recovery.plan && [...state.recovery.plan],
    started: [...state.recovery.started],
    recovered: [...state.recovery.recovered],
    failures: [...state.recovery.failures],
  },
  made: new Set(),
});

/** The state a draft has come to; its rows are shared from now on. */
const stateOf = ({ made: _made, ...state }: Draft): ClusterState => state;

/**
 * The fold step: the state after one event. Pure: `state` is left as it was. Throws
 * `InvalidTransition` naming the cluster object when the event does not fit the state.
 */
export function evolve(state: ClusterState, event: FoldableEvent): ClusterState {
  const draft = toDraft(state);
  applyInPlace(draft, event);
  return stateOf(draft);
}

/** Folds many events; copies `from` once rather than once per event. */
export function fold(
  events: Iterable<FoldableEvent>,
  from: ClusterState = emptyState(),
): ClusterState {
  const draft = toDraft(from);
  for (const event of events) applyInPlace(draft, event);
  return stateOf(draft);
}

/** A row one event changed: as it was (undefined: added) and as it is (undefined: removed). */
export interface RowChange {
  before: SegmentRow | undefined;
  after: SegmentRow | undefined;
}

/**
 * The draft's rows, noting each dbid an event sets or deletes and the row it held before. Every
 * change of a row goes through here: a rule changes a row only through `own`, whose copy is set.
 */
class NotedRows extends Map<number, SegmentRow> {
  readonly before = new Map<number, SegmentRow | undefined>();

  constructor(rows: ReadonlyMap<number, SegmentRow>) {
    // Filled after `before` exists: Map's own constructor would call the noting `set`.
    super();
    for (const [dbid, row] of rows) super.set(dbid, row);
  }

  override set(dbid: number, row: SegmentRow): this {
    if (!this.before.has(dbid)) this.before.set(dbid, this.get(dbid));
    return super.set(dbid, row);
  }

  override delete(dbid: number): boolean {
    if (!this.before.has(dbid)) this.before.set(dbid, this.get(dbid));
    return super.delete(dbid);
  }
}

/**
 * fold, calling `step` after each event with the rows it changed: in the events and the rows
 * they change, not in the cluster's size (gp_configuration_history of a 16,385-row log). Each
 * event copies a row it changes (a fresh `made` per event), so a row `step` was given as
 * `after` is never changed later.
 */
export function foldSteps(
  events: Iterable<FoldableEvent>,
  step: (event: FoldableEvent, seq: number, changes: ReadonlyMap<number, RowChange>) => void,
  from: ClusterState = emptyState(),
): ClusterState {
  const rows = new NotedRows(from.segments);
  const draft = toDraft(from, rows);
  for (const event of events) {
    draft.made = new Set();
    rows.before.clear();
    applyInPlace(draft, event);
    const changes = new Map<number, RowChange>();
    for (const [dbid, before] of rows.before) changes.set(dbid, { before, after: rows.get(dbid) });
    step(event, draft.seq, changes);
  }
  return stateOf({ ...draft, segments: new Map(rows) });
}

/** gp_segment_configuration in the seed's row order. */
export const configurationOf = (state: ClusterState): SegmentRow[] =>
  sortRows(state.segments.values());

export const pairsOfState = (state: ClusterState): Pair[] => pairsOf(state.segments.values());
