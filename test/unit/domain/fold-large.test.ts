import { describe, expect, it } from 'vitest';
import { InvalidTransition } from '#domain/errors.ts';
import { configurationOf, emptyState, evolve, fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { sortRows } from '#domain/segment.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { hostFailureLog } from '#test/fixtures/host-failure-log.ts';

/*
 * The fold changes a draft of its own in place (rows it made, a plan's parts, the double
 * faults) and keeps indexes beside it; evolve starts from a fresh copy at every event. On a
 * log with every part of that (registration and plan in parts, double faults out of order),
 * both must come to the same state, from wherever the log is cut.
 */

const rows = groupMirroredCluster(8, 64); // 1,025 rows: registration in 2 parts
/** Hosts sdw2 and sdw4 fail: 256 contents affected, a plan in 2 parts. */
const log = hostFailureLog(rows, (hostname) => hostname === 'sdw2' || hostname === 'sdw4');
// Detected out of content order; one cleared by hand, the rest by their resynchronization.
const faulted = [log.items[9]!, log.items[2]!, log.items[30]!, log.items[0]!];
const doubleFaults = faulted.map((item): NewEvent => ({
  type: 'DoubleFaultDetected',
  data: { content: item.content, primaryDbid: item.sourceDbid, mirrorDbid: item.dbid },
}));
const cleared: NewEvent = {
  type: 'DoubleFaultCleared',
  data: { content: faulted[1]!.content, primaryDbid: faulted[1]!.sourceDbid },
};
const all = [
  ...log.registration,
  ...log.failure,
  ...doubleFaults,
  cleared,
  ...log.recovery,
  ...log.rebalance,
];
const { incidentId } = log;

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
    ['in the rebalance', at('PairSynchronized', log.items.length + 3)],
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
    const contents = faulted.map((item) => item.content);
    expect(detected.doubleFaults).toEqual([...contents].sort((a, b) => a - b));
    const afterClear = fold([cleared], detected);
    expect(afterClear.doubleFaults).toEqual(
      contents.filter((c) => c !== contents[1]).sort((a, b) => a - b),
    );
    expect(() => fold([cleared], afterClear)).toThrow(
      new InvalidTransition(`content ${contents[1]}: no double fault on record to clear`),
    );
  });

  it('leaves the events it folds as they were', () => {
    const events = structuredClone(all);
    fold(events);
    expect(events).toEqual(all);
  });

  it('refuses a content planned again in a later part, folded whole or from the parts before', () => {
    const { items } = log;
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
