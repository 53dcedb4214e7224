import { describe, expect, it } from 'vitest';
import type { NewEvent, RecordedEvent } from '#domain/events.ts';
import { fold } from '#domain/evolve.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { incidentTimings } from '#domain/timings.ts';
import { seedScenario } from '#test/fixtures/seed.ts';

/*
 * Given the log of an incident, when it completes, then its timings say what this incident's
 * run did: never a phase it did not go through, never a state it found already so.
 */

const segments = structuredClone(seedScenario.segments) as SegmentRow[];
const preferredPrimaries = new Set(
  segments.filter((r) => r.preferred_role === 'p').map((r) => r.dbid),
);
const at = (second: number) => new Date(Date.UTC(2026, 11, 3, 7, 0, second)).toISOString();

/** The events at one second each, folded from registration so that each is a legal history. */
function log(...events: NewEvent[]): RecordedEvent[] {
  const all = [...registrationEvents(segments), ...events].map(
    (e, i): RecordedEvent =>
      ({
        ...e,
        clusterId: 'seed',
        seq: i + 1,
        at: at(i),
        idempotencyKey: `k${i}`,
        causation: { actor: 'test' },
      }) as RecordedEvent,
  );
  fold(all);
  return all;
}

const requested = (incidentId: string): NewEvent => ({
  type: 'RecoveryRequested',
  data: { incidentId, trigger: { source: 'cli' }, options: {} as never },
});
const timingsOf = (events: RecordedEvent[], incidentId: string) =>
  incidentTimings(events, incidentId, at(59), preferredPrimaries);
const atOf = (events: RecordedEvent[], type: string, nth = 0) =>
  events.filter((e) => e.type === type)[nth]!.at;

describe('incidentTimings', () => {
  it('a dead mirror after an earlier run that failed in its rebalance: the switch back found done is not "promoted", nor "redundant again", nor "rebalanced"', () => {
    const events = log(
      // Incident a: sdw2's primaries failed over and were recovered; its run failed in
      // gprecoverseg -r, which went on to end well (the log still shows the roles switched).
      requested('a'),
      promoted(2, 8, 4),
      promoted(3, 9, 5),
      { type: 'SegmentRecovered', data: { dbid: 4 } },
      { type: 'SegmentRecovered', data: { dbid: 5 } },
      { type: 'PairSynchronized', data: { content: 2 } },
      { type: 'PairSynchronized', data: { content: 3 } },
      { type: 'RecoveryFailed', data: { incidentId: 'a', phase: 'rebalance', reason: 'x' } },
      // Incident b: its first look reconciles the switch back no run saw.
      requested('b'),
      promoted(2, 4, 8),
      promoted(3, 5, 9),
      { type: 'SegmentRecovered', data: { dbid: 8 } },
      { type: 'SegmentRecovered', data: { dbid: 9 } },
      { type: 'PairSynchronized', data: { content: 2 } },
      { type: 'PairSynchronized', data: { content: 3 } },
      // Then FTS marks dbid 6 down after its grace period; the run recovers it.
      { type: 'SegmentMarkedDown', data: { dbid: 6 } },
      { type: 'RecoveryPlanned', data: { incidentId: 'b', items: [plan(6, 0, 2)] } },
      { type: 'SegmentRecoveryStarted', data: { incidentId: 'b', dbid: 6, type: 'incremental' } },
      { type: 'SegmentRecovered', data: { dbid: 6 } },
      { type: 'PairSynchronized', data: { content: 0 } },
      { type: 'ClusterRedundant', data: { incidentId: 'b' } },
    );
    expect(timingsOf(events, 'b')).toEqual({
      requestedAt: atOf(events, 'RecoveryRequested', 1),
      detectedAt: atOf(events, 'SegmentMarkedDown'),
      recoveredAt: atOf(events, 'SegmentRecovered', 4),
      synchronizedAt: atOf(events, 'ClusterRedundant'),
      completedAt: at(59),
    });
  });

  it('a host failure recovered and rebalanced by its own run: every phase, rebalanced from its own gprecoverseg -r', () => {
    const events = log(
      requested('c'),
      promoted(2, 8, 4),
      promoted(3, 9, 5),
      { type: 'SegmentMarkedDown', data: { dbid: 6 } },
      { type: 'SegmentMarkedDown', data: { dbid: 7 } },
      {
        type: 'RecoveryPlanned',
        data: {
          incidentId: 'c',
          items: [plan(6, 0, 2), plan(7, 1, 3), plan(4, 2, 8), plan(5, 3, 9)],
        },
      },
      ...[6, 7, 4, 5].map((dbid): NewEvent => ({
        type: 'SegmentRecoveryStarted',
        data: { incidentId: 'c', dbid, type: 'incremental' },
      })),
      ...[6, 7, 4, 5].map((dbid): NewEvent => ({ type: 'SegmentRecovered', data: { dbid } })),
      ...[0, 1, 2, 3].map((content): NewEvent => ({ type: 'PairSynchronized', data: { content } })),
      { type: 'ClusterRedundant', data: { incidentId: 'c' } },
      // gprecoverseg -r: FTS promotes the preferred primaries back.
      promoted(2, 4, 8),
      promoted(3, 5, 9),
      { type: 'SegmentRecovered', data: { dbid: 8 } },
      { type: 'SegmentRecovered', data: { dbid: 9 } },
      { type: 'PairSynchronized', data: { content: 2 } },
      { type: 'PairSynchronized', data: { content: 3 } },
      { type: 'ClusterRebalanced', data: { incidentId: 'c' } },
    );
    expect(timingsOf(events, 'c')).toEqual({
      requestedAt: atOf(events, 'RecoveryRequested'),
      detectedAt: atOf(events, 'MirrorPromoted', 0),
      promotedAt: atOf(events, 'MirrorPromoted', 1),
      recoveredAt: atOf(events, 'SegmentRecovered', 3),
      synchronizedAt: atOf(events, 'ClusterRedundant'),
      rebalancedAt: atOf(events, 'ClusterRebalanced'),
      completedAt: at(59),
    });
  });

  it('a host failure the watcher recorded, then started the run for: detected at the look, promoted by the request', () => {
    // As on a real GP 6.24.3 with serve --watch-seconds 10 and the policy auto: the look saw
    // FTS fail sdw2's primaries over, recorded it, and started incident watch-5.
    const events = log(
      { type: 'ClusterSeenWhole', data: {} },
      promoted(2, 8, 4),
      promoted(3, 9, 5),
      requested('watch-5'),
      { type: 'SegmentMarkedDown', data: { dbid: 6 } },
      { type: 'SegmentMarkedDown', data: { dbid: 7 } },
      {
        type: 'RecoveryPlanned',
        data: {
          incidentId: 'watch-5',
          items: [plan(6, 0, 2), plan(7, 1, 3), plan(4, 2, 8), plan(5, 3, 9)],
        },
      },
      ...[6, 7, 4, 5].map((dbid): NewEvent => ({
        type: 'SegmentRecoveryStarted',
        data: { incidentId: 'watch-5', dbid, type: 'incremental' },
      })),
      ...[6, 7, 4, 5].map((dbid): NewEvent => ({ type: 'SegmentRecovered', data: { dbid } })),
      ...[0, 1, 2, 3].map((content): NewEvent => ({ type: 'PairSynchronized', data: { content } })),
      { type: 'ClusterRedundant', data: { incidentId: 'watch-5' } },
    );
    expect(timingsOf(events, 'watch-5')).toEqual({
      requestedAt: atOf(events, 'RecoveryRequested'),
      detectedAt: atOf(events, 'MirrorPromoted', 0),
      promotedAt: atOf(events, 'RecoveryRequested'),
      recoveredAt: atOf(events, 'SegmentRecovered', 3),
      synchronizedAt: atOf(events, 'ClusterRedundant'),
      completedAt: at(59),
    });
  });

  it("faults an earlier run answered are not the next incident's, whoever recorded them", () => {
    const events = log(
      requested('x'),
      promoted(2, 8, 4),
      { type: 'RecoveryCancelled', data: { incidentId: 'x', by: 'dba', reason: 'later' } },
      requested('y'),
    );
    expect(timingsOf(events, 'y')).toEqual({
      requestedAt: atOf(events, 'RecoveryRequested', 1),
      completedAt: at(59),
    });
  });

  it('refuses to record redundancy or a rebalance the log does not show', () => {
    expect(() =>
      log(
        requested('d'),
        { type: 'SegmentMarkedDown', data: { dbid: 6 } },
        {
          type: 'ClusterRedundant',
          data: { incidentId: 'd' },
        },
      ),
    ).toThrow(/incident d: content 0 is not in sync; the cluster is not redundant/);
    expect(() =>
      log(requested('d'), promoted(2, 8, 4), {
        type: 'ClusterRebalanced',
        data: { incidentId: 'd' },
      }),
    ).toThrow(/content 2 is not in sync in its preferred roles/);
  });
});

function plan(dbid: number, content: number, sourceDbid: number) {
  return { dbid, content, sourceDbid, type: 'incremental' as const };
}

function promoted(content: number, promotedDbid: number, demotedDbid: number): NewEvent {
  return { type: 'MirrorPromoted', data: { content, promotedDbid, demotedDbid } };
}
