import { assertCoordinatorAnswers } from '#cluster/simulated/coordinator-answers.ts';
import { probeInPlace } from '#cluster/simulated/fts.ts';
import { attempt } from '#cluster/simulated/gprecoverseg.ts';
import {
  assertCatalogValid,
  clone,
  forgetOldOperations,
  indexOf,
  type Index,
  log,
  pinWal,
  processOf,
  setRunning,
  type OperationItem,
  type SimulatedClusterState,
  type SimulatedOperation,
} from '#cluster/simulated/model.ts';

export const INCREMENTAL_FAILURES_MESSAGE =
  'Failed to recover the following segments. You must run either gprecoverseg --differential or gprecoverseg -F for all incremental failures';
export const RECOVERED_MESSAGE = 'Segments successfully recovered.';
export const REBALANCED_MESSAGE = 'The rebalance operation has completed successfully.';

const allResolved = (op: SimulatedOperation): boolean =>
  op.waiting === undefined && op.items.every((item) => item.outcome !== 'copying');

const finishTime = (op: SimulatedOperation): number =>
  Math.max(
    op.startedAt,
    op.waitedUntil ?? op.startedAt,
    ...op.items.map((item) => item.resolvedAt ?? op.startedAt),
  );

/**
 * The earliest thing that happens by itself: a host powering on, a promotion ending, a waiting
 * gprecoverseg trying again, a copy ending, a run ending.
 */
function nextEventTime(state: SimulatedClusterState): number | undefined {
  const times: number[] = [];
  for (const back of Object.values(state.downHosts)) if (back !== null) times.push(back);
  times.push(...Object.values(state.promotions));
  for (const op of state.operations) {
    if (op.finishedAt !== undefined) continue;
    if (op.waiting) times.push(op.waiting.next);
    if (allResolved(op)) times.push(finishTime(op));
    for (const item of op.items) if (item.outcome === 'copying') times.push(item.completeAt);
  }
  return times.length === 0 ? undefined : Math.min(...times);
}

/** The promotion ended: the segment accepts connections, and its walsender may start. */
function endPromotion(state: SimulatedClusterState, dbid: string, at: number): void {
  const { byDbid, pairByContent } = indexOf(state);
  const row = byDbid.get(Number(dbid));
  const pair = row && pairByContent.get(row.content);
  // Pinned while it still has no walsender: catch-up counts only from now.
  if (pair) pinWal(state, pair, at);
  delete state.promotions[dbid];
  log(state, at, `dbid ${dbid}: promotion ended, database system is ready to accept connections`);
}

/** The copy finished: gprecoverseg starts the segment, which then streams the WAL it lacks. */
function completeCopy(
  state: SimulatedClusterState,
  index: Index,
  item: OperationItem,
  at: number,
): void {
  item.outcome = 'recovered';
  item.resolvedAt = at;
  item.completedKb = item.totalKb;
  Object.assign(processOf(state, item.dbid), { dataLost: false, rewindBroken: false });
  setRunning(state, index, item.dbid, true, at);
  state.wal[item.content] = { behindBytes: state.options.walBytesBehind, since: at };
}

/**
 * What gprecoverseg prints at the end of a run it did not refuse; a rebalance prints its nested
 * recovery's line, then its own (capture 40).
 */
function closingLines(op: SimulatedOperation): string[] {
  if (op.refusal || op.items.length === 0) return [];
  const failed = op.items.filter((item) => item.outcome === 'failed');
  if (failed.some((item) => item.type === 'incremental')) return [INCREMENTAL_FAILURES_MESSAGE];
  if (failed.length > 0) return [];
  return op.kind === 'rebalance' ? [RECOVERED_MESSAGE, REBALANCED_MESSAGE] : [RECOVERED_MESSAGE];
}

/** The run ends: failed relocations are backed out, FTS is asked to probe, the lock is released. */
function finishOperation(state: SimulatedClusterState, op: SimulatedOperation, at: number): void {
  const { byDbid } = indexOf(state);
  for (const item of op.items) {
    const row = byDbid.get(item.dbid);
    if (item.outcome === 'failed' && item.backout && row) Object.assign(row, item.backout);
  }
  op.finishedAt = at;
  // gprecoverseg triggers a probe at its end; a refused run's failed dispatch triggers one too.
  probeInPlace(state, at);
  op.messages.push(...closingLines(op));
  for (const message of op.messages) log(state, at, `gprecoverseg: ${message}`);
  forgetOldOperations(state);
}

/**
 * Lets clock time pass up to `now`, in place: everything scheduled by then happens in time
 * order (hosts back, promotions ended, waiting runs trying again, copies done, runs finished).
 * WAL catch-up needs no steps: it is computed from the positions pinned whenever replication
 * starts or stops.
 */
export function advanceInPlace(state: SimulatedClusterState, now: number): void {
  const target = Math.max(now, state.now);
  for (;;) {
    const at = nextEventTime(state);
    if (at === undefined || at > target) break;
    state.now = Math.max(state.now, at);
    for (const [host, back] of Object.entries(state.downHosts))
      if (back !== null && back <= at) delete state.downHosts[host];
    for (const [dbid, end] of Object.entries(state.promotions))
      if (end <= at) endPromotion(state, dbid, at);
    for (const op of state.operations) {
      if (op.finishedAt !== undefined) continue;
      if (op.waiting && op.waiting.next <= at) attempt(state, op, at);
      // One index for the run's copies: rows change in place, the catalog stays the same list.
      const index = indexOf(state);
      for (const item of op.items)
        if (item.outcome === 'copying' && item.completeAt <= at)
          completeCopy(state, index, item, at);
      if (allResolved(op) && finishTime(op) <= at) finishOperation(state, op, at);
    }
  }
  state.now = target;
}

/** The cluster at clock time `now`, with everything due by then done. */
export function advance(state: SimulatedClusterState, now: number): SimulatedClusterState {
  const draft = clone(state);
  advanceInPlace(draft, now);
  assertCatalogValid(draft, 'advance');
  return draft;
}

/** `SELECT gp_request_fts_probe_scan()` at clock time `now`. */
export function probe(state: SimulatedClusterState, now: number): SimulatedClusterState {
  const draft = clone(state);
  advanceInPlace(draft, now);
  assertCoordinatorAnswers(draft);
  probeInPlace(draft, now);
  assertCatalogValid(draft, 'probe');
  return draft;
}
