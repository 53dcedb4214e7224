import { describe, expect, it } from 'vitest';
import { evolve, fold } from '#domain/evolve.ts';
import { InvalidTransition } from '#domain/errors.ts';
import { observedDoubleFaults } from '#domain/observation.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { SegmentRow } from '#domain/segment.ts';

const row = (dbid: number, content: number, role: 'p' | 'm', status: 'u' | 'd', mode: 's' | 'n') =>
  ({
    dbid,
    content,
    role,
    preferred_role: role,
    mode,
    status,
    port: 6000 + dbid,
    hostname: 'sdw1',
    address: 'sdw1',
    datadir: `/data/gpseg${content}-${dbid}`,
  }) satisfies SegmentRow;

const coordinator = row(1, -1, 'p', 'u', 'n');

describe('observedDoubleFaults: one row per situation', () => {
  const cases: [string, SegmentRow[], number[], number[]][] = [
    [
      'every acting primary answers',
      [coordinator, row(2, 0, 'p', 'u', 's'), row(3, 0, 'm', 'u', 's')],
      [],
      [],
    ],
    [
      'a silent primary of a pair in sync: FTS fails it over, not a double fault',
      [coordinator, row(2, 0, 'p', 'u', 's'), row(3, 0, 'm', 'u', 's')],
      [2],
      [],
    ],
    [
      'a silent primary whose mirror is down (real capture 80c)',
      [coordinator, row(2, 0, 'p', 'u', 'n'), row(3, 0, 'm', 'd', 'n')],
      [2],
      [0],
    ],
    [
      'a silent primary whose mirror is up but not in sync',
      [coordinator, row(2, 0, 'p', 'u', 'n'), row(3, 0, 'm', 'u', 'n')],
      [2],
      [0],
    ],
    [
      'a silent primary without a mirror: unavailable, not a double fault',
      [coordinator, row(2, 0, 'p', 'u', 'n')],
      [2],
      [],
    ],
    [
      'a silent mirror is not an acting primary',
      [coordinator, row(2, 0, 'p', 'u', 'n'), row(3, 0, 'm', 'd', 'n')],
      [3],
      [],
    ],
    ['the coordinator is never a content of its own', [coordinator], [1], []],
  ];
  it.each(cases)('%s', (_, segments, unresponsive, contents) => {
    expect(observedDoubleFaults(segments, unresponsive).map((f) => f.content)).toEqual(contents);
  });

  it('names the silent acting primary and its mirror', () => {
    expect(
      observedDoubleFaults([coordinator, row(2, 0, 'p', 'u', 'n'), row(3, 0, 'm', 'd', 'n')], [2]),
    ).toEqual([{ content: 0, primaryDbid: 2, mirrorDbid: 3 }]);
  });
});

describe('DoubleFaultCleared', () => {
  const registered = fold(
    registrationEvents([coordinator, row(2, 0, 'p', 'u', 's'), row(3, 0, 'm', 'u', 's')]),
  );
  it('refuses to clear a fault that is not on record', () => {
    expect(() =>
      evolve(registered, { type: 'DoubleFaultCleared', data: { content: 0, primaryDbid: 2 } }),
    ).toThrow(InvalidTransition);
  });
  it('refuses to clear it for a dbid that is not the acting primary', () => {
    const faulted = evolve(registered, {
      type: 'DoubleFaultDetected',
      data: { content: 0, primaryDbid: 2, mirrorDbid: 3 },
    });
    expect(() =>
      evolve(faulted, { type: 'DoubleFaultCleared', data: { content: 0, primaryDbid: 3 } }),
    ).toThrow(/acting primary is dbid 2/);
    expect(
      evolve(faulted, { type: 'DoubleFaultCleared', data: { content: 0, primaryDbid: 2 } })
        .doubleFaults,
    ).toEqual([]);
  });
});
