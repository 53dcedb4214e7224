import { describe, expect, it } from 'vitest';
import { InvalidTransition } from '#domain/errors.ts';
import { configurationOf, emptyState, evolve, fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent, PlanItem } from '#domain/events.ts';
import { planEvents } from '#domain/parts.ts';
import { registrationEvents } from '#domain/registration.ts';
import { sortRows, type SegmentRow } from '#domain/segment.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { seedIncidentPhases } from '#test/fixtures/seed.ts';

/*
 * The fold changes a draft of its own in place (rows it made, a plan's parts, the double
 * faults) and keeps indexes beside it; evolve starts from a fresh copy at every event. On a
 * log with every part of that (registration and plan in parts, double faults out of order),
 * both must come to the same state, from wherever the log is cut.
 */

// The seed incident's request and completion, around this incident's own events.
const [, , seedRecovery, seedRebalance] = seedIncidentPhases();
const requested = seedRecovery[0] as Extract<NewEvent, { type: 'RecoveryRequested' }>;
const completed = seedRebalance.at(-1)!;
const { incidentId } = requested.data;
const rows = groupMirroredCluster(8, 64); // 1,025 rows: registration in 2 parts
const contents = rows.filter((r) => r.content >= 0 && r.role === 'p').length;
/** Hosts sdw2 and sdw4 fail: their primaries fail over to the next host, their mirrors go down. */
const failed = (row: SegmentRow) => row.hostname === 'sdw2' || row.hostname === 'sdw4';
const primaryOf = (content: number) => rows.find((r) => r.content === content && r.role === 'p')!;
const mirrorOf = (content: number) => rows.find((r) => r.content === content && r.role === 'm')!;
const affected = Array.from({ length: contents }, (_, c) => c).filter(
  (c) => failed(primaryOf(c)) || failed(mirrorOf(c)),
);
const switched = affected.filter((c) => failed(primaryOf(c)));

function hostFailureLog() {
  const registration = registrationEvents(rows);
  const failure = affected.map((c): NewEvent => {
    const [primary, mirror] = [primaryOf(c), mirrorOf(c)];
    return failed(primary)
      ? {
          type: 'MirrorPromoted',
          data: { content: c, promotedDbid: mirror.dbid, demotedDbid: primary.dbid },
        }
      : { type: 'SegmentMarkedDown', data: { dbid: mirror.dbid } };
  });
  // Detected out of content order; one cleared by hand, the rest by their resynchronization.
  const faulted = [affected[9]!, affected[2]!, affected[30]!, affected[0]!];
  const doubleFaults = faulted.map((c): NewEvent => {
    const down = failed(primaryOf(c)) ? primaryOf(c) : mirrorOf(c);
    const acting = failed(primaryOf(c)) ? mirrorOf(c) : primaryOf(c);
    return {
      type: 'DoubleFaultDetected',
      data: { content: c, primaryDbid: acting.dbid, mirrorDbid: down.dbid },
    };
  });
  const cleared: NewEvent = {
    type: 'DoubleFaultCleared',
    data: {
      content: faulted[1]!,
      primaryDbid: (failed(primaryOf(faulted[1]!)) ? mirrorOf : primaryOf)(faulted[1]!).dbid,
    },
  };
  const items = affected.map((c): PlanItem => {
    const down = failed(primaryOf(c)) ? primaryOf(c) : mirrorOf(c);
    const acting = failed(primaryOf(c)) ? mirrorOf(c) : primaryOf(c);
    return { dbid: down.dbid, content: c, sourceDbid: acting.dbid, type: 'incremental' };
  });
  const recovery: NewEvent[] = [
    requested,
    ...planEvents(incidentId, items),
    ...items.flatMap((item): NewEvent[] => [
      { type: 'SegmentRecoveryStarted', data: { incidentId, dbid: item.dbid, type: item.type } },
      { type: 'SegmentRecovered', data: { dbid: item.dbid } },
      { type: 'PairSynchronized', data: { content: item.content } },
    ]),
    { type: 'ClusterRedundant', data: { incidentId } },
  ];
  const rebalance: NewEvent[] = [
    ...switched.flatMap((c): NewEvent[] => [
      {
        type: 'MirrorPromoted',
        data: { content: c, promotedDbid: primaryOf(c).dbid, demotedDbid: mirrorOf(c).dbid },
      },
      { type: 'SegmentRecovered', data: { dbid: mirrorOf(c).dbid } },
      { type: 'PairSynchronized', data: { content: c } },
    ]),
    { type: 'ClusterRebalanced', data: { incidentId } },
    completed,
    { type: 'ClusterSeenWhole', data: {} },
  ];
  return { registration, failure, doubleFaults, cleared, faulted, recovery, rebalance };
}

const log = hostFailureLog();
const all = [
  ...log.registration,
  ...log.failure,
  ...log.doubleFaults,
  log.cleared,
  ...log.recovery,
  ...log.rebalance,
];
/** Where the `nth` event of `type` is in the log. */
function at(type: NewEvent['type'], nth = 0): number {
  let seen = 0;
  return all.findIndex((e) => e.type === type && seen++ === nth);
}

describe('fold of a 1,025-row host failure, with its registration and plan in parts', () => {
  const whole = fold(all);

  it('recovers and rebalances the cluster, every part of the log folded', () => {
    expect(log.registration.length).toBeGreaterThan(1);
    expect(log.recovery.filter((e) => e.type === 'RecoveryPlanned').length).toBeGreaterThan(1);
    expect(whole.seq).toBe(all.length);
    expect(configurationOf(whole)).toEqual(sortRows(rows));
    expect(whole.doubleFaults).toEqual([]);
    expect(whole.lastIncident).toMatchObject({ incidentId, status: 'succeeded' });
    expect(whole.watch?.seenWhole?.seq).toBe(all.length);
  });

  it('equals evolve one event at a time', () => {
    const stepwise = all.reduce<ClusterState>((state, event) => evolve(state, event), emptyState());
    expect(stepwise).toEqual(whole);
  });

  it.each([
    ['inside the registration', at('ClusterRegistered', 1)],
    ['between the failures', at('MirrorPromoted', 7)],
    ['among the double faults', at('DoubleFaultDetected', 2)],
    ['inside the plan', at('RecoveryPlanned', 1)],
    ['in the recovery', at('SegmentRecovered', 40)],
    ['in the rebalance', at('PairSynchronized', affected.length + 3)],
  ])(
    'equals the fold of its two halves when cut %s, and leaves the first half as it was',
    (_where, cut) => {
      const head = fold(all.slice(0, cut));
      const before = structuredClone(head);
      expect(fold(all.slice(cut), head)).toEqual(whole);
      expect(head).toEqual(before);
    },
  );

  it('keeps the double faults in content order, whatever order they were detected in', () => {
    const detected = fold(all.slice(0, at('DoubleFaultCleared')));
    expect(detected.doubleFaults).toEqual([...log.faulted].sort((a, b) => a - b));
    const cleared = fold([log.cleared], detected);
    expect(cleared.doubleFaults).toEqual(
      log.faulted.filter((c) => c !== log.faulted[1]).sort((a, b) => a - b),
    );
    expect(() => fold([log.cleared], cleared)).toThrow(
      new InvalidTransition(`content ${log.faulted[1]}: no double fault on record to clear`),
    );
  });

  it('leaves the events it folds as they were', () => {
    const events = structuredClone(all);
    fold(events);
    expect(events).toEqual(all);
  });

  it('refuses a content planned again in a later part, folded whole or from the parts before', () => {
    const items = log.recovery.flatMap((e) => (e.type === 'RecoveryPlanned' ? e.data.items : []));
    // Three parts (the check of part 3 reads what parts 1 and 2 planned), the third repeating
    // a content of the second.
    const parts = [items.slice(0, 100), items.slice(100, 200), [...items.slice(200), items[150]!]];
    const again = parts.map((part, i): NewEvent => ({
      type: 'RecoveryPlanned',
      data: { incidentId, items: part, part: i + 1, parts: parts.length },
    }));
    const before = all.slice(0, at('RecoveryPlanned'));
    const refusal = new InvalidTransition(
      `content ${items[150]!.content} appears twice in the plan`,
    );
    expect(() => fold([...before, ...again])).toThrow(refusal);
    expect(() => fold(again.slice(1), fold([...before, again[0]!]))).toThrow(refusal);
    expect(() => fold(again.slice(2), fold([...before, ...again.slice(0, 2)]))).toThrow(refusal);
    expect(fold(again.slice(0, 2), fold(before)).recovery?.plan).toEqual(items.slice(0, 200));
  });
});
