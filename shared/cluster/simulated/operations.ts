import type { OperationHandle, OperationStatus } from '#cluster/port.ts';
import {
  GprecoversegFailed,
  GprecoversegLocked,
  InvalidRecoveryPlan,
  RebalanceReplayLagExceeded,
  UnknownOperation,
  UnknownSegment,
} from '#cluster/simulated/errors.ts';
import { assertCoordinatorAnswers } from '#cluster/simulated/coordinator-answers.ts';
import { whenDispatched } from '#cluster/simulated/gprecoverseg.ts';
import {
  assertCatalogValid,
  clone,
  copiedKb,
  indexOf,
  runningOperation,
  type Index,
  type OperationKind,
  type SimulatedClusterState,
  type SimulatedOperation,
} from '#cluster/simulated/model.ts';
import { advanceInPlace } from '#cluster/simulated/timeline.ts';
import { planItemSchema, type PlanItem } from '#domain/events.ts';
import {
  locationOf,
  sameLocation,
  describeLocation,
  type SegmentLocation,
  type SegmentRow,
} from '#domain/segment.ts';

export { NOTHING_TO_REBALANCE } from '#cluster/simulated/gprecoverseg.ts';
export const NOTHING_TO_RECOVER = 'No segments to recover';

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
  assertCoordinatorAnswers(draft);
  const running = runningOperation(draft);
  if (running) throw new GprecoversegLocked(running.operationId);
  return draft;
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
  const items = plan.map(({ dbid, sourceDbid, type, target }) => ({
    dbid,
    sourceDbid,
    type,
    ...(target ? { target } : {}),
  }));
  whenDispatched(draft, op, { kind: 'recover', items }, at);
  advanceInPlace(draft, at);
  assertCatalogValid(draft, `startRecovery(${op.operationId})`);
  return { state: draft, handle: handleOf(op) };
}

/**
 * `gprecoverseg -ar --replay-lag N`: see `rebalance` in gprecoverseg.ts. Like every run, it
 * starts with a statement dispatched to every acting primary.
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
  const op = newOperation(draft, 'rebalance', operationKey, at);
  whenDispatched(draft, op, { kind: 'rebalance', replayLagGb }, at);
  advanceInPlace(draft, at);
  assertCatalogValid(draft, `startRebalance(${op.operationId})`);
  return { state: draft, handle: handleOf(op) };
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
  assertCoordinatorAnswers(draft);
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
