import { describe, expect, it } from 'vitest';
import {
  emptyState,
  evolve,
  fold,
  foldSteps,
  type ClusterState,
  type FoldableEvent,
  type RowChange,
} from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { registrationEvents } from '#domain/registration.ts';
import { historyLines, historyOf, type HistoryLine } from '#domain/render.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { hostFailureLog } from '#test/fixtures/host-failure-log.ts';
import { catalogCapture } from '#test/unit/cluster/greenplum/captures.ts';

/*
 * gp_configuration_history from foldSteps (the rows each event changed) against the obvious
 * way: evolve one event at a time and compare every row of the configuration before and after
 * it, which is quadratic on a large cluster's log (45,000 events x 16,385 rows).
 */

function historyByDiff(events: FoldableEvent[]): HistoryLine[] {
  const lines: HistoryLine[] = [];
  let state = emptyState();
  for (const event of events) {
    const next = evolve(state, event);
    const changes = new Map<number, RowChange>();
    for (const [dbid, row] of next.segments) {
      const before = state.segments.get(dbid);
      if (before !== undefined && before !== row) changes.set(dbid, { before, after: row });
    }
    for (const line of historyLines(event, changes))
      lines.push({ seq: next.seq, at: event.at, ...line });
    state = next;
  }
  return lines;
}

const rows = groupMirroredCluster(8, 64); // 1,025 rows
/** Hosts sdw2 and sdw4 fail: promoted, recovered, resynchronized, rebalanced; a double fault. */
const log = hostFailureLog(rows, (hostname) => hostname === 'sdw2' || hostname === 'sdw4');
const faulted = log.items[3]!;
const doubleFault: NewEvent = {
  type: 'DoubleFaultDetected',
  data: { content: faulted.content, primaryDbid: faulted.sourceDbid, mirrorDbid: faulted.dbid },
};
const hostFailure: FoldableEvent[] = [
  ...log.registration,
  ...log.failure,
  doubleFault,
  ...log.recovery,
  ...log.rebalance,
].map((event, i) => ({ ...event, at: new Date(Date.UTC(2026, 11, 3, 9, 0, i)).toISOString() }));

describe('gp_configuration_history of a 1,025-row host failure', () => {
  it('has the lines of comparing every row around every event, in the same order', () => {
    const history = historyOf(hostFailure);
    expect(history).toEqual(historyByDiff(hostFailure));
    // Every change is there: the promotions, the recoveries and the rebalance's role swaps.
    expect(history.filter((line) => line.desc.startsWith('FTS:')).length).toBeGreaterThan(
      3 * log.items.length,
    );
  });

  it('gives each event the rows it changed, as they were and are, never changed after', () => {
    const steps: {
      seq: number;
      changes: ReadonlyMap<number, RowChange>;
      /** Copies of the rows given as `after`, taken when given. */
      copies: Map<number, SegmentRow | undefined>;
    }[] = [];
    const last = foldSteps(hostFailure, (_event, seq, changes) =>
      steps.push({
        seq,
        changes,
        copies: new Map([...changes].map(([dbid, { after }]) => [dbid, after && { ...after }])),
      }),
    );
    expect(last).toEqual(fold(hostFailure));
    let state: ClusterState = emptyState();
    for (const [i, event] of hostFailure.entries()) {
      const next = evolve(state, event);
      const { seq, changes } = steps[i]!;
      expect(seq).toBe(next.seq);
      const changed = [...next.segments].filter(([dbid, row]) => state.segments.get(dbid) !== row);
      expect([...changes.keys()].sort((a, b) => a - b)).toEqual(
        changed.map(([dbid]) => dbid).sort((a, b) => a - b),
      );
      for (const [dbid, { before, after }] of changes) {
        expect(before, `seq ${seq} dbid ${dbid}`).toEqual(state.segments.get(dbid));
        expect(after, `seq ${seq} dbid ${dbid}`).toEqual(next.segments.get(dbid));
      }
      state = next;
    }
    // Once every event is folded: no row given as `after` was changed in place since.
    for (const { seq, changes, copies } of steps)
      for (const [dbid, { after }] of changes)
        expect(after, `seq ${seq} dbid ${dbid}`).toEqual(copies.get(dbid));
  });
});

describe("gp_configuration_history of a coordinator's failover (captures 113, 129)", () => {
  it('shows the standby becoming the coordinator, and nothing for the row gpactivatestandby drops', async () => {
    const withStandby: SegmentRow[] = await catalogCapture('113_config_with_standby.txt');
    const incidentId = 'coord-1';
    const events: NewEvent[] = [
      ...registrationEvents(withStandby),
      {
        type: 'StandbySyncObserved',
        data: {
          standbyDbid: 10,
          replication: {
            state: 'streaming',
            syncState: 'sync',
            sentLocation: '0/C000000',
            flushLocation: '0/C000000',
            replayLocation: '0/C000000',
          },
        },
      },
      { type: 'CoordinatorUnreachable', data: { coordinatorDbid: 1, detail: 'no response' } },
      {
        type: 'CoordinatorFailoverStarted',
        data: {
          incidentId,
          coordinatorDbid: 1,
          standbyDbid: 10,
          observationSeq: 2,
          maxObservationAgeSeconds: 60,
          trigger: { source: 'watch' },
        },
      },
      {
        type: 'CoordinatorFenced',
        data: { incidentId, coordinatorDbid: 1, how: 'pg-ctl-stop-immediate', detail: 'stopped' },
      },
      { type: 'StandbyActivated', data: { incidentId, dbid: 10 } },
    ];
    const timed = events.map((event) => ({ ...event, at: '2026-12-03T08:11:36.000Z' }));
    const history = historyOf(timed);
    expect(history).toEqual(historyByDiff(timed));
    expect(history.filter((line) => line.seq === timed.length)).toEqual([
      {
        seq: timed.length,
        at: '2026-12-03T08:11:36.000Z',
        dbid: 10,
        desc: 'FTS: update role, status, and mode for dbid 10 with contentid -1 to p, u, and s',
      },
    ]);
  });
});
