import { expect } from 'vitest';
import { configurationProblems } from '#domain/invariants.ts';
import type { PlanItem, RecoveryType } from '#domain/events.ts';
import { pairsOf, type SegmentRow } from '#domain/segment.ts';
import type { OperationHandle } from '#cluster/port.ts';
import type { SimulatedClusterState } from '#cluster/simulated/model.ts';
import { pollOperation, type SimulatedOperationStatus } from '#cluster/simulated/operations.ts';

export function expectValid(state: SimulatedClusterState): void {
  expect(configurationProblems(state.catalog)).toEqual([]);
}

/** What the workflow would plan: every down mirror, from its content's acting primary. */
export function planFor(
  state: Pick<SimulatedClusterState, 'catalog'>,
  type: RecoveryType = 'incremental',
  target?: (row: SegmentRow) => PlanItem['target'],
): PlanItem[] {
  return pairsOf(state.catalog).flatMap((pair) =>
    pair.mirror?.status === 'd'
      ? [
          {
            dbid: pair.mirror.dbid,
            content: pair.content,
            sourceDbid: pair.primary.dbid,
            type,
            ...(target ? { target: target(pair.mirror) } : {}),
          },
        ]
      : [],
  );
}

/** Polls every `stepMs` of clock time until the run is done; returns the status and the time. */
export function pollUntilDone(
  state: SimulatedClusterState,
  handle: OperationHandle,
  from: number,
  stepMs = 250,
): { status: SimulatedOperationStatus; at: number } {
  for (let at = from; at < from + 24 * 3600_000; at += stepMs) {
    const status = pollOperation(state, at, handle.operationId);
    if (status.done) return { status, at };
  }
  throw new Error(`${handle.operationId} did not finish within a simulated day`);
}

export const modesOf = (rows: readonly SegmentRow[]): string =>
  rows
    .filter((r) => r.content >= 0)
    .map((r) => `${r.dbid}:${r.role}${r.status}${r.mode}`)
    .join(' ');
