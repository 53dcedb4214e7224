import type { OperationHandle, OperationStatus } from '#cluster/port.ts';
import {
  GprecoversegFailed,
  GprecoversegLocked,
  InvalidRecoveryPlan,
  RebalanceReplayLagExceeded,
  UnknownOperation,
  UnknownSegment,
} from '#cluster/simulated/errors.ts';
import { RECOVERY_TOOL } from '#cluster/simulated/faults.ts';
import { probeInPlace } from '#cluster/simulated/fts.ts';
import {
  assertCatalogValid,
  clone,
  copiedKb,
  durationMs,
  indexOf,
  isHostDown,
  log,
  processOf,
  runningOperation,
  setRunning,
  unresponsivePrimaries,
  type Index,
  type OperationItem,
  type OperationKind,
  type Refusal,
  type SimulatedClusterState,
  type SimulatedOperation,
} from '#cluster/simulated/model.ts';
import { nextRandom } from '#cluster/simulated/random.ts';
import { advanceInPlace } from '#cluster/simulated/timeline.ts';
import { planItemSchema, type PlanItem, type RecoveryType } from '#domain/events.ts';
import {
  describeLocation,
  isInPreferredRoles,
  locationOf,
  sameLocation,
  type Pair,
  type SegmentLocation,
  type SegmentRow,
} from '#domain/segment.ts';

export const NOTHING_TO_REBALANCE =
  'No segments are running in their non-preferred role and need to be rebalanced.';
export const NOTHING_TO_RECOVER = 'No segments to recover';

const GB = 1024 ** 3;

/** The port's status plus gprecoverseg's closing lines. */
export interface SimulatedOperationStatus extends OperationStatus {
  messages: string[];
}

export interface Started {
  state: SimulatedClusterState;
  handle: OperationHandle;
}

const handleOf = (op: SimulatedOperation): OperationHandle => ({
  operationId: op.operationId,
  kind: op.kind,
});

/** Problems gprecoverseg finds before touching anything; each names the dbid or content. */
function planProblems(
  state: SimulatedClusterState,
  index: Index,
  plan: readonly PlanItem[],
): string[] {
  const problems: string[] = [];
  const planned = new Map<number, number>();
  const finalLocation = new Map<number, SegmentLocation>(
    state.catalog.map((row) => [row.dbid, locationOf(row)]),
  );
  for (const item of plan) {
    const row = index.byDbid.get(item.dbid) as SegmentRow;
    const where = `dbid ${item.dbid} (content ${row.content})`;
    if (row.content === -1) {
      problems.push(`dbid ${item.dbid} is a coordinator: gprecoverseg recovers segments only`);
      continue;
    }
    if (item.content !== row.content)
      problems.push(
        `dbid ${item.dbid} belongs to content ${row.content}, not content ${item.content}`,
      );
    const twin = planned.get(row.content);
    if (twin !== undefined)
      problems.push(
        `content ${row.content} appears twice in the plan (dbid ${twin} and dbid ${item.dbid}): one mirror per content`,
      );
    planned.set(row.content, item.dbid);
    if (row.status !== 'd')
      problems.push(
        `${where} is not marked down (status ${row.status}): only failed segments are recovered`,
      );
    const pair = index.pairByContent.get(row.content);
    if (pair && item.sourceDbid !== pair.primary.dbid)
      problems.push(
        `source dbid ${item.sourceDbid} is not the acting primary of content ${row.content} (dbid ${pair.primary.dbid} is)`,
      );
    if (item.target && !sameLocation(item.target, locationOf(row))) {
      if (item.type !== 'full')
        problems.push(
          `${where}: ${item.type} recovery cannot move it to ${describeLocation(item.target)}; recovery to another location is always full`,
        );
      finalLocation.set(item.dbid, item.target);
    }
  }
  const relocated = new Set(plan.filter((i) => i.target).map((i) => i.dbid));
  for (const key of ['port', 'datadir'] as const) {
    const users = new Map<string, number[]>();
    for (const [dbid, location] of finalLocation) {
      const at = `${location.hostname}:${location[key]}`;
      users.set(at, [...(users.get(at) ?? []), dbid]);
    }
    for (const dbids of users.values()) {
      const location = finalLocation.get(dbids[0] as number) as SegmentLocation;
      if (dbids.length > 1 && dbids.some((d) => relocated.has(d)))
        problems.push(
          `relocation collides: dbid ${dbids.join(' and dbid ')} would all use ${key === 'port' ? 'port' : 'data directory'} ${location[key]} on ${location.hostname}`,
        );
    }
  }
  return problems;
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

function newOperation(
  state: SimulatedClusterState,
  kind: OperationKind,
  operationKey: string,
  at: number,
): SimulatedOperation {
  state.operationCount += 1;
  const op: SimulatedOperation = {
    operationId: `${kind}-${state.operationCount}`,
    operationKey,
    kind,
    startedAt: at,
    items: [],
    skipped: [],
    messages: [],
  };
  state.operations.push(op);
  return op;
}

const runWithKey = (state: SimulatedClusterState, operationKey: string) =>
  state.operations.find((op) => op.operationKey === operationKey);

/** The cluster at `now` with `gprecoverseg.lock` free, ready for a new run. */
function lockedDraft(state: SimulatedClusterState, now: number): SimulatedClusterState {
  const draft = clone(state);
  advanceInPlace(draft, now);
  const running = runningOperation(draft);
  if (running) throw new GprecoversegLocked(running.operationId);
  return draft;
}

/**
 * gprecoverseg's `[CRITICAL]` exit (2) when an acting primary does not answer: its first
 * statement is dispatched to every segment and fails (capture 82, a double fault).
 */
function unreachablePrimaryRefusal(state: SimulatedClusterState): Refusal | undefined {
  const [dbid] = unresponsivePrimaries(state);
  const row = state.catalog.find((r) => r.dbid === dbid);
  if (!row) return undefined;
  return {
    reason:
      `gprecoverseg failed. (Reason='error 'ERROR:  failed to acquire resources on one or more segments\n` +
      `DETAIL:  could not connect to server: Connection refused\n` +
      `\tIs the server running on host "${row.address}" and accepting\n` +
      `\tTCP/IP connections on port ${row.port}?\n` +
      ` (seg${row.content} ${row.address}:${row.port})\n` +
      `' in 'SET CLIENT_MIN_MESSAGES='ERROR''') exiting...`,
  };
}

/** gprecoverseg stopped before changing anything: the run ends at once. */
function refuse(op: SimulatedOperation, refusal: Refusal): void {
  op.refusal = refusal;
  op.messages.push(refusal.reason);
}

interface ItemRequest {
  row: SegmentRow;
  sourceDbid: number;
  type: RecoveryType;
  target?: SegmentLocation;
}

/**
 * What `gprecoverseg -a` does once its input is accepted: refuse when an acting primary does
 * not answer; otherwise stop stray postmasters, move relocated rows in the catalog (with a
 * backout), and copy in parallel. Segments whose copy cannot work fail; the others come up.
 */
function recover(
  state: SimulatedClusterState,
  index: Index,
  op: SimulatedOperation,
  items: readonly ItemRequest[],
  at: number,
): void {
  const refusal = unreachablePrimaryRefusal(state);
  if (refusal) return refuse(op, refusal);
  for (const { row, sourceDbid, type, target } of items) {
    if (processOf(state, row.dbid).running) setRunning(state, index, row.dbid, false, at);
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

/**
 * `gprecoverseg -a` for `plan`: every item is checked before anything changes (a plan the
 * workflow should never make is refused with InvalidRecoveryPlan), then the run starts.
 */
export function startRecovery(
  state: SimulatedClusterState,
  now: number,
  plan: readonly PlanItem[],
  operationKey: string,
): Started {
  const retried = runWithKey(state, operationKey);
  if (retried) return { state, handle: handleOf(retried) };
  const draft = lockedDraft(state, now);
  const at = draft.now;
  const malformed = plan.flatMap((item, i) => {
    const parsed = planItemSchema.safeParse(item);
    return parsed.success
      ? []
      : parsed.error.issues.map(
          (issue) => `plan item ${i} ${issue.path.join('.')}: ${issue.message}`,
        );
  });
  if (malformed.length > 0) throw new InvalidRecoveryPlan(malformed);
  const index = indexOf(draft);
  const unknown = [...new Set(plan.flatMap((i) => [i.dbid, i.sourceDbid]))].filter(
    (d) => !index.byDbid.has(d),
  );
  if (unknown.length > 0) throw new UnknownSegment(unknown);
  const problems = planProblems(draft, index, plan);
  if (problems.length > 0) throw new InvalidRecoveryPlan(problems);

  const op = newOperation(draft, 'recovery', operationKey, at);
  if (plan.length === 0) op.messages.push(NOTHING_TO_RECOVER);
  recover(
    draft,
    index,
    op,
    plan.map((item) => ({
      row: index.byDbid.get(item.dbid) as SegmentRow,
      sourceDbid: item.sourceDbid,
      type: item.type,
      ...(item.target ? { target: item.target } : {}),
    })),
    at,
  );
  advanceInPlace(draft, at);
  assertCatalogValid(draft, `startRecovery(${op.operationId})`);
  return { state: draft, handle: handleOf(op) };
}

/**
 * `gprecoverseg -ar --replay-lag N` as GpSegmentRebalanceOperation does it (capture 40): pairs
 * out of their preferred roles that are up, reachable and synchronized in the catalog are
 * rebalanced, the others skipped with a warning; one mirror at or over the replay-lag limit
 * refuses the whole run before anything stops. The non-preferred acting primaries are stopped,
 * FTS promotes the preferred ones (their mirrors), and a nested `gprecoverseg -a` recovers
 * every segment marked down in the cluster, incrementally.
 */
export function startRebalance(
  state: SimulatedClusterState,
  now: number,
  { replayLagGb }: { replayLagGb: number },
  operationKey: string,
): Started {
  const retried = runWithKey(state, operationKey);
  if (retried) return { state, handle: handleOf(retried) };
  const draft = lockedDraft(state, now);
  const at = draft.now;
  const index = indexOf(draft);
  const op = newOperation(draft, 'rebalance', operationKey, at);
  const refusal = unreachablePrimaryRefusal(draft) ?? replayLagRefusal(draft, index, replayLagGb);
  const outOfRole = index.pairs.filter((pair) => pair.mirror && !isInPreferredRoles(pair));
  if (refusal) refuse(op, refusal);
  else if (outOfRole.length === 0) op.messages.push(NOTHING_TO_REBALANCE);
  else {
    const stopped: number[] = [];
    for (const pair of outOfRole) {
      const { primary, mirror } = pair as typeof pair & { mirror: SegmentRow };
      if (rebalanceable(draft, pair)) stopped.push(primary.dbid);
      else
        op.skipped.push({
          content: pair.content,
          reason: `Not rebalancing primary segment dbid ${primary.dbid} with its mirror dbid ${mirror.dbid} because one is either down, unreachable, or not synchronized`,
        });
    }
    if (stopped.length > 0) {
      for (const dbid of stopped) setRunning(draft, index, dbid, false, at);
      probeInPlace(draft, at);
      const promoted = indexOf(draft);
      recover(
        draft,
        promoted,
        op,
        promoted.pairs.flatMap((pair) =>
          pair.mirror?.status === 'd'
            ? [{ row: pair.mirror, sourceDbid: pair.primary.dbid, type: 'incremental' as const }]
            : [],
        ),
        at,
      );
    }
  }
  advanceInPlace(draft, at);
  assertCatalogValid(draft, `startRebalance(${op.operationId})`);
  return { state: draft, handle: handleOf(op) };
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
 * gprecoverseg's progress lines and outcome for one run, as of clock time `now`, as the real
 * adapter reads them: a run gprecoverseg refused (exit 2) is an error, not a list of failures.
 */
export function pollOperation(
  state: SimulatedClusterState,
  now: number,
  operationId: string,
): SimulatedOperationStatus {
  const draft = clone(state);
  advanceInPlace(draft, now);
  const op = draft.operations.find((o) => o.operationId === operationId);
  if (!op) throw new UnknownOperation(operationId);
  if (op.refusal?.replayLag)
    throw new RebalanceReplayLagExceeded(op.refusal.replayLag.dbid, op.refusal.replayLag.bytes);
  if (op.refusal) throw new GprecoversegFailed(op.operationId, op.refusal.reason);
  return {
    operationId: op.operationId,
    kind: op.kind,
    done: op.finishedAt !== undefined,
    // A segment shows progress once its copy printed a line: not when it failed before copying.
    progress: op.items
      .filter((item) => item.outcome !== 'failed' || (item.completedKb ?? 0) > 0)
      .map((item) => {
        const completedKb = copiedKb(item, draft.now);
        return {
          dbid: item.dbid,
          type: item.type,
          completedKb,
          totalKb: item.totalKb,
          percent: Math.floor((completedKb * 100) / item.totalKb),
        };
      }),
    recovered: op.items.filter((i) => i.outcome === 'recovered').map((i) => i.dbid),
    failures: op.items.flatMap((i) =>
      i.failure
        ? [{ dbid: i.dbid, type: i.type, reason: i.failure.reason, needsFull: i.failure.needsFull }]
        : [],
    ),
    skipped: op.skipped,
    messages: op.messages,
  };
}
