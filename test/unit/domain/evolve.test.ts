import { describe, expect, it } from 'vitest';
import { configurationOf, emptyState, evolve, fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { configurationProblems } from '#domain/invariants.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { InvalidTransition } from '#domain/errors.ts';
import { seedIncidentPhases, seedScenario, seedTables } from '#test/fixtures/seed.ts';

const [registration, failure, recovery, rebalance] = seedIncidentPhases();
const registered = () => fold(registration);
const afterFailure = () => fold(failure, registered());

describe('evolve: the seed incident', () => {
  it('folds to the three seed tables byte for byte', () => {
    const [table1, table2, table3] = seedTables();
    const s1 = afterFailure();
    expect(renderConfigurationTable(configurationOf(s1))).toBe(table1);
    const s2 = fold(recovery, s1);
    expect(renderConfigurationTable(configurationOf(s2))).toBe(table2);
    const s3 = fold(rebalance, s2);
    expect(renderConfigurationTable(configurationOf(s3))).toBe(table3);
    expect(s3.recovery).toBeUndefined();
    expect(s3.lastIncident).toMatchObject({ incidentId: 'seed-segment-2', status: 'succeeded' });
  });

  it('is pure: evolve leaves its input state unchanged', () => {
    const before = registered();
    const rows = renderConfigurationTable(configurationOf(before));
    const after = evolve(before, { type: 'SegmentMarkedDown', data: { dbid: 6 } });
    expect(renderConfigurationTable(configurationOf(before))).toBe(rows);
    expect(after.segments.get(6)).toMatchObject({ status: 'd', mode: 'n' });
    expect(before.segments.get(6)).toMatchObject({ status: 'u', mode: 's' });
  });

  it('evolve one by one equals fold', () => {
    const all = [...registration, ...failure, ...recovery, ...rebalance];
    const stepwise = all.reduce<ClusterState>((s, e) => evolve(s, e), emptyState());
    expect(configurationOf(stepwise)).toEqual(configurationOf(fold(all)));
    expect(stepwise.seq).toBe(all.length);
  });

  it('keeps every projected state valid', () => {
    let state = emptyState();
    for (const event of [...registration, ...failure, ...recovery, ...rebalance]) {
      state = evolve(state, event);
      expect(configurationProblems(configurationOf(state))).toEqual([]);
    }
  });
});

describe('evolve: refusals name the cluster object', () => {
  const cases: [string, () => ClusterState, NewEvent, RegExp][] = [
    [
      'acting primary marked down',
      registered,
      { type: 'SegmentMarkedDown', data: { dbid: 2 } },
      /dbid 2 is the acting primary of content 0/,
    ],
    [
      'mirror already down',
      afterFailure,
      { type: 'SegmentMarkedDown', data: { dbid: 6 } },
      /dbid 6 .* already down/,
    ],
    [
      'unknown dbid',
      registered,
      { type: 'SegmentMarkedDown', data: { dbid: 99 } },
      /dbid 99 is not in the configuration/,
    ],
    [
      'coordinator marked down',
      registered,
      { type: 'SegmentMarkedDown', data: { dbid: 10 } },
      /coordinator/,
    ],
    [
      'promotion of a stale mirror',
      afterFailure,
      { type: 'MirrorPromoted', data: { content: 0, promotedDbid: 6, demotedDbid: 2 } },
      /content 0: mirror dbid 6 is not in sync .* would lose data/,
    ],
    [
      'promotion that does not match the pair',
      registered,
      { type: 'MirrorPromoted', data: { content: 0, promotedDbid: 7, demotedDbid: 2 } },
      /does not match the pair/,
    ],
    [
      'sync of a pair with a down mirror',
      afterFailure,
      { type: 'PairSynchronized', data: { content: 0 } },
      /content 0: pair .* is not up/,
    ],
    [
      'sync of a pair already in sync',
      registered,
      { type: 'PairSynchronized', data: { content: 1 } },
      /content 1/,
    ],
    [
      'recovering a running segment',
      registered,
      { type: 'SegmentRecovered', data: { dbid: 6 } },
      /dbid 6 is not a failed mirror/,
    ],
    [
      'double fault naming the wrong pair',
      registered,
      { type: 'DoubleFaultDetected', data: { content: 1, primaryDbid: 3, mirrorDbid: 6 } },
      /content 1: double fault names primary dbid 3 and mirror dbid 6/,
    ],
    [
      'second registration',
      registered,
      { type: 'ClusterRegistered', data: { segments: seedScenario.segments, part: 1, parts: 1 } },
      /already registered/,
    ],
    [
      'recovery event without a recovery',
      registered,
      { type: 'RecoveryPlanned', data: { incidentId: 'x', items: [] } },
      /no recovery is in progress/,
    ],
  ];
  for (const [name, start, event, message] of cases) {
    it(`refuses ${name}`, () => {
      const state = start();
      expect(() => evolve(state, event)).toThrow(InvalidTransition);
      expect(() => evolve(state, event)).toThrow(message);
    });
  }

  it('refuses a seq that does not follow', () => {
    expect(() => evolve(registered(), { ...failure[0]!, seq: 5 })).toThrow(
      /seq 5 does not follow seq 1/,
    );
  });

  it('refuses a relocation onto a port in use on the target host', () => {
    const state = afterFailure();
    const planned = fold(
      [
        recovery[0]!,
        {
          type: 'SegmentRecoveryStarted',
          data: { incidentId: 'seed-segment-2', dbid: 6, type: 'full' },
        },
      ],
      state,
    );
    expect(() =>
      evolve(planned, {
        type: 'SegmentRecovered',
        data: {
          dbid: 6,
          relocatedTo: {
            hostname: 'segment-1',
            address: 'segment-1',
            port: 10000,
            datadir: '/data1/mirror/gpseg0',
          },
        },
      }),
    ).toThrow(/relocation of dbid 6: dbid 2 and dbid 6 both use port 10000 on segment-1/);
  });
});

describe('evolve: double faults and relocation', () => {
  it('records a double fault without changing a row, and clears it when the pair resyncs', () => {
    const mirrorDown = fold([{ type: 'SegmentMarkedDown', data: { dbid: 7 } }], registered());
    const faulted = evolve(mirrorDown, {
      type: 'DoubleFaultDetected',
      data: { content: 1, primaryDbid: 3, mirrorDbid: 7 },
    });
    expect(configurationOf(faulted)).toEqual(configurationOf(mirrorDown));
    expect(faulted.doubleFaults).toEqual([1]);
    const healed = fold(
      [
        { type: 'SegmentRecovered', data: { dbid: 7 } },
        { type: 'PairSynchronized', data: { content: 1 } },
      ],
      faulted,
    );
    expect(healed.doubleFaults).toEqual([]);
  });

  it('moves a segment rebuilt on another host', () => {
    const state = fold(
      [
        {
          type: 'SegmentRecovered',
          data: {
            dbid: 6,
            relocatedTo: {
              hostname: 'segment-3',
              address: 'segment-3',
              port: 10500,
              datadir: '/data1/mirror/gpseg0',
            },
          },
        },
      ],
      afterFailure(),
    );
    expect(state.segments.get(6)).toMatchObject({
      hostname: 'segment-3',
      address: 'segment-3',
      status: 'u',
      mode: 'n',
      role: 'm',
    });
  });
});
