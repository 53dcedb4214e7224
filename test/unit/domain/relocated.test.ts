import { describe, expect, it } from 'vitest';
import { configurationOf, evolve, fold } from '#domain/evolve.ts';
import { InvalidTransition } from '#domain/errors.ts';
import { reconcile } from '#domain/reconcile.ts';
import { locationOf } from '#domain/segment.ts';
import { seedIncidentPhases } from '#test/fixtures/seed.ts';

/*
 * gprecoverseg -p moves a failed mirror in the catalog before it starts it there. When the
 * start never happens (the new host dies mid-copy), the catalog shows the mirror down at its
 * new location. Found by the model test (seed 270558122, path 60): the log kept the old
 * location, so the next run recovered dbid 8 in place, from a host the catalog had left.
 */
const [registration, failure] = seedIncidentPhases();
const afterFailure = () => fold(failure, fold(registration));
const spare = {
  hostname: 'spare-1',
  address: 'spare-1',
  port: 10500,
  datadir: '/data1/mirror/gpseg0',
};

describe('a failed mirror the catalog moved (SegmentRelocated)', () => {
  it('is recorded by reconcile when the catalog shows it down elsewhere, and folds to that catalog', () => {
    const state = afterFailure();
    const seen = configurationOf(state).map((row) => (row.dbid === 6 ? { ...row, ...spare } : row));
    const events = reconcile(state, { segments: seen, doubleFaults: [] });
    expect(events).toEqual([{ type: 'SegmentRelocated', data: { dbid: 6, to: spare } }]);
    const next = events.reduce(evolve, state);
    expect(configurationOf(next)).toEqual(seen);
    expect(next.segments.get(6)).toMatchObject({ ...spare, status: 'd', role: 'm' });
  });

  it('is nothing to record while the mirror is where the log has it', () => {
    const state = afterFailure();
    expect(reconcile(state, { segments: configurationOf(state), doubleFaults: [] })).toEqual([]);
  });

  it('is refused for a mirror that is up: only a failed one is moved without a recovery', () => {
    const state = fold(registration);
    expect(() => evolve(state, { type: 'SegmentRelocated', data: { dbid: 6, to: spare } })).toThrow(
      InvalidTransition,
    );
  });

  it('is refused onto a location another segment holds', () => {
    const state = afterFailure();
    const onto = locationOf(state.segments.get(2)!);
    expect(() => evolve(state, { type: 'SegmentRelocated', data: { dbid: 6, to: onto } })).toThrow(
      /relocation of dbid 6/,
    );
  });
});
