import { probeInPlace } from '#cluster/simulated/fts.ts';
import {
  durationMs,
  indexOf,
  isHostDown,
  log,
  processOf,
  promotingPrimaries,
  setRunning,
  unresponsivePrimaries,
  type Continuation,
  type Index,
  type OperationItem,
  type Refusal,
  type RequestedItem,
  type SimulatedClusterState,
  type SimulatedOperation,
} from '#cluster/simulated/model.ts';
import { nextRandom } from '#cluster/simulated/random.ts';
import type { RecoveryType } from '#domain/events.ts';
import {
  describeLocation,
  isInPreferredRoles,
  locationOf,
  sameLocation,
  type Pair,
  type SegmentLocation,
  type SegmentRow,
} from '#domain/segment.ts';

/*
 * What a gprecoverseg run does once started: its first distributed statement, which waits
 * while an acting primary is still being promoted; a rebalance's stops, FTS promotions and
 * wait for them to end; then the copies.
 */

/** The program each recovery type runs, as named in its error lines. */
export const RECOVERY_TOOL: Record<RecoveryType, string> = {
  incremental: 'pg_rewind',
  differential: 'rsync',
  full: 'pg_basebackup',
};

/**
 * `gp_gang_creation_retry_timer` (2000 ms) and `gp_gang_creation_retry_count` (5): while a
 * segment answers "the database system is in recovery mode" (a mirror, or one FTS has marked
 * primary whose promotion has not ended: capture 103), the coordinator builds the gang again
 * every 2 s, five times, then fails the statement (cdbgang_async.c).
 */
const GANG_RETRY_SECONDS = 2;
const GANG_RETRIES = 5;
/** gprecoverseg -r's SegmentReconfigurer gives FTS's promotions this long (6.x: 30 s). */
const MIRROR_PROMOTION_TIMEOUT_SECONDS = 30;
const GB = 1024 ** 3;

export const NOTHING_TO_REBALANCE =
  'No segments are running in their non-preferred role and need to be rebalanced.';

const failedStatement = (error: string): string =>
  `gprecoverseg failed. (Reason='error 'ERROR:  failed to acquire resources on one or more segments\n` +
  `DETAIL:  ${error}\n` +
  `' in 'SET CLIENT_MIN_MESSAGES='ERROR''') exiting...`;

/**
 * gprecoverseg's `[CRITICAL]` exit (2) when an acting primary does not answer: its first
 * statement is dispatched to every segment and fails (capture 82, a double fault).
 */
export function unreachablePrimaryRefusal(state: SimulatedClusterState): Refusal | undefined {
  const [dbid] = unresponsivePrimaries(state);
  const row = state.catalog.find((r) => r.dbid === dbid);
  if (!row) return undefined;
  return {
    reason: failedStatement(
      `could not connect to server: Connection refused\n` +
        `\tIs the server running on host "${row.address}" and accepting\n` +
        `\tTCP/IP connections on port ${row.port}?\n` +
        ` (seg${row.content} ${row.address}:${row.port})`,
    ),
  };
}

/** The same statement when its gang retries ran out while a segment was still in recovery. */
const IN_RECOVERY_REFUSAL: Refusal = { reason: failedStatement('segments is in recovery mode') };

/** gprecoverseg -r when the promoted primaries never accepted a distributed statement. */
const PROMOTION_TIMEOUT_REFUSAL: Refusal = {
  reason: `gprecoverseg failed. (Reason='Mirror promotion did not complete in ${MIRROR_PROMOTION_TIMEOUT_SECONDS} seconds.') exiting...`,
};

/** gprecoverseg stopped before copying anything: the run ends at once. */
export function refuse(op: SimulatedOperation, refusal: Refusal): void {
  op.refusal = refusal;
  op.messages.push(refusal.reason);
}

/**
 * gprecoverseg from its first statement on, dispatched to every acting primary: it refuses at
 * once when one does not answer, waits while one is still being promoted (the gang is built
 * again every 2 s, five times, then the statement fails), then goes on with `then`. So nothing
 * is ever copied from a segment that is not a primary yet.
 */
export function whenDispatched(
  state: SimulatedClusterState,
  op: SimulatedOperation,
  then: Continuation,
  at: number,
): void {
  op.waiting = { for: 'gang', since: at, next: at, attempts: 0, then };
  attempt(state, op, at);
}

/** One attempt of a waiting run, at `waiting.next` (the timeline calls it then). */
export function attempt(state: SimulatedClusterState, op: SimulatedOperation, at: number): void {
  const waiting = op.waiting;
  if (!waiting) return;
  waiting.attempts += 1;
  const step = durationMs(state, GANG_RETRY_SECONDS);
  const promoting = promotingPrimaries(state).length > 0;
  const goOn = (next: () => void) => {
    delete op.waiting;
    op.waitedUntil = at;
    next();
  };
  if (waiting.for === 'gang') {
    const refusal = unreachablePrimaryRefusal(state);
    if (refusal) return goOn(() => refuse(op, refusal));
    if (!promoting) return goOn(() => proceed(state, op, waiting.then, at));
    if (waiting.attempts > GANG_RETRIES) return goOn(() => refuse(op, IN_RECOVERY_REFUSAL));
    waiting.next = at + step;
    return;
  }
  // SegmentReconfigurer: any failure of its statement (in recovery, refused) is tried again.
  if (!promoting && unresponsivePrimaries(state).length === 0)
    return goOn(() => proceed(state, op, waiting.then, at));
  const deadline = waiting.since + durationMs(state, MIRROR_PROMOTION_TIMEOUT_SECONDS);
  if (at >= deadline) return goOn(() => refuse(op, PROMOTION_TIMEOUT_REFUSAL));
  waiting.next = Math.min(at + step, deadline);
}

function proceed(
  state: SimulatedClusterState,
  op: SimulatedOperation,
  then: Continuation,
  at: number,
): void {
  if (then.kind === 'recover') copy(state, op, then.items, at);
  else if (then.kind === 'rebalance') rebalance(state, op, then.replayLagGb, at);
  else whenDispatched(state, op, { kind: 'recover', items: downSegments(state) }, at);
}

/** The nested `gprecoverseg -a` of a rebalance: every segment marked down, incrementally. */
const downSegments = (state: SimulatedClusterState): RequestedItem[] =>
  indexOf(state).pairs.flatMap((pair) =>
    pair.mirror?.status === 'd'
      ? [{ dbid: pair.mirror.dbid, sourceDbid: pair.primary.dbid, type: 'incremental' as const }]
      : [],
  );

/**
 * `gprecoverseg -r` once its statement ran (GpSegmentRebalanceOperation, captures 40, 87):
 * pairs out of their preferred roles that are up, reachable and synchronized in the catalog are
 * rebalanced, the others skipped with a warning; one mirror at or over the replay-lag limit
 * refuses the whole run before anything stops. The non-preferred acting primaries are stopped,
 * FTS promotes the preferred ones (their mirrors), and once their promotions have ended
 * (SegmentReconfigurer) a nested `gprecoverseg -a` recovers every segment marked down.
 */
function rebalance(
  state: SimulatedClusterState,
  op: SimulatedOperation,
  replayLagGb: number,
  at: number,
): void {
  const index = indexOf(state);
  const refusal = replayLagRefusal(state, index, replayLagGb);
  if (refusal) return refuse(op, refusal);
  const outOfRole = index.pairs.filter((pair) => pair.mirror && !isInPreferredRoles(pair));
  if (outOfRole.length === 0) {
    op.messages.push(NOTHING_TO_REBALANCE);
    return;
  }
  const stopped: number[] = [];
  for (const pair of outOfRole) {
    const { primary, mirror } = pair as typeof pair & { mirror: SegmentRow };
    if (rebalanceable(state, pair)) stopped.push(primary.dbid);
    else
      op.skipped.push({
        content: pair.content,
        reason: `Not rebalancing primary segment dbid ${primary.dbid} with its mirror dbid ${mirror.dbid} because one is either down, unreachable, or not synchronized`,
      });
  }
  if (stopped.length === 0) return;
  for (const dbid of stopped) setRunning(state, index, dbid, false, at);
  probeInPlace(state, at);
  op.waiting = {
    for: 'promotion',
    since: at,
    next: at,
    attempts: 0,
    then: { kind: 'nested-recovery' },
  };
  attempt(state, op, at);
}

/** gprecoverseg -r trusts the catalog: both up and `s`, both hosts reachable. */
function rebalanceable(state: SimulatedClusterState, pair: Pair): boolean {
  const { primary, mirror } = pair;
  return (
    mirror !== undefined &&
    primary.status === 'u' &&
    mirror.status === 'u' &&
    primary.mode === 's' &&
    !isHostDown(state, primary.hostname) &&
    !isHostDown(state, mirror.hostname)
  );
}

/** The first pair to rebalance whose mirror replays at or over the limit refuses the whole run. */
function replayLagRefusal(
  state: SimulatedClusterState,
  index: Index,
  replayLagGb: number,
): Refusal | undefined {
  for (const pair of index.pairs) {
    if (!pair.mirror || isInPreferredRoles(pair) || !rebalanceable(state, pair)) continue;
    const bytes = state.options.replayLag.find((l) => l.content === pair.content)?.bytes ?? 0;
    if (bytes < replayLagGb * GB) continue;
    const dbid = pair.primary.dbid;
    return {
      reason: `gprecoverseg failed. (Reason='${bytes} bytes of wal is still to be replayed on mirror with dbid ${dbid}, let mirror catchup on replay then trigger rebalance. Use --replay-lag to configure the allowed replay lag limit or --disable-replay-lag to disable the check completely if you wish to continue with rebalance anyway') exiting...`,
      replayLag: { dbid, bytes },
    };
  }
  return undefined;
}

/**
 * Stops stray postmasters, moves relocated rows in the catalog (with a backout), and copies in
 * parallel. Segments whose copy cannot work fail; the others come up when their copy ends.
 */
function copy(
  state: SimulatedClusterState,
  op: SimulatedOperation,
  items: readonly RequestedItem[],
  at: number,
): void {
  const index = indexOf(state);
  for (const { dbid, sourceDbid, type, target } of items) {
    const row = index.byDbid.get(dbid) as SegmentRow;
    if (processOf(state, dbid).running) setRunning(state, index, dbid, false, at);
    let backout: SegmentLocation | undefined;
    if (target && !sameLocation(target, locationOf(row))) {
      backout = locationOf(row);
      Object.assign(row, target);
      log(
        state,
        at,
        `gprecoverseg: segment config for content ${row.content} moved from ${describeLocation(backout)} to ${describeLocation(row)}`,
      );
    }
    op.items.push(startCopy(state, row, sourceDbid, type, at, backout));
  }
}

function drawTotalKb(state: SimulatedClusterState, type: RecoveryType): number {
  const { segmentSizeKb, segmentSizeJitter, incrementalFraction, differentialFraction } =
    state.options;
  const fraction = {
    incremental: incrementalFraction,
    differential: differentialFraction,
    full: 1,
  }[type];
  const { value, state: rng } = nextRandom(state.rng);
  state.rng = rng;
  return Math.max(
    1,
    Math.round(segmentSizeKb * fraction * (1 + segmentSizeJitter * (2 * value - 1))),
  );
}

/** Why this copy cannot work at all, in the words of the tool that would report it. */
function copyFailure(
  state: SimulatedClusterState,
  row: SegmentRow,
  type: RecoveryType,
): OperationItem['failure'] {
  const process = processOf(state, row.dbid);
  if (isHostDown(state, row.hostname))
    return { reason: `Host ${row.hostname} is unreachable`, needsFull: false };
  if (type === 'full') return undefined;
  if (type === 'incremental' && process.dataLost)
    return {
      reason: `${RECOVERY_TOOL.incremental}: fatal: could not open file "${row.datadir}/global/pg_control" for reading: No such file or directory`,
      needsFull: true,
    };
  if (type === 'incremental' && process.rewindBroken)
    return {
      reason: `${RECOVERY_TOOL.incremental}: fatal: could not find previous WAL record`,
      needsFull: true,
    };
  if (type === 'differential' && process.dataLost)
    return {
      reason: `${RECOVERY_TOOL.differential}: change_dir "${row.datadir}" failed: No such file or directory (2)`,
      needsFull: true,
    };
  return undefined;
}

function startCopy(
  state: SimulatedClusterState,
  row: SegmentRow,
  sourceDbid: number,
  type: RecoveryType,
  at: number,
  backout?: SegmentLocation,
): OperationItem {
  const totalKb = drawTotalKb(state, type);
  const failure = copyFailure(state, row, type);
  return {
    dbid: row.dbid,
    content: row.content,
    sourceDbid,
    type,
    totalKb,
    startedAt: at,
    completeAt: failure ? at : at + durationMs(state, totalKb / state.options.recoveryKbPerSecond),
    outcome: failure ? 'failed' : 'copying',
    ...(failure ? { failure, resolvedAt: at, completedKb: 0 } : {}),
    ...(backout ? { backout } : {}),
  };
}
