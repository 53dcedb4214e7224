import { describe, expect, it } from 'vitest';
import { configurationProblems, locationProblems } from '#domain/invariants.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario } from '#test/fixtures/seed.ts';

const seed = seedScenario.segments;
const patch = (dbid: number, change: Partial<SegmentRow>) =>
  seed.map((r) => (r.dbid === dbid ? { ...r, ...change } : r));

describe('topology validation', () => {
  it('accepts the seed cluster', () => {
    expect(configurationProblems(seed)).toEqual([]);
  });

  it.each<[string, SegmentRow[], string]>([
    [
      'two acting primaries',
      patch(6, { role: 'p', port: 10600 }),
      'content 0 has two acting primaries (dbid 2, 6)',
    ],
    [
      'a gap in contents',
      seed.filter((r) => r.content !== 2),
      'contents must be 0..N-1 without gaps: missing 2',
    ],
    [
      'a duplicate dbid',
      [...seed, { ...seed[2]!, port: 12000, datadir: '/x/y' }],
      'dbid 2 appears twice',
    ],
    [
      'a port used twice on a host',
      patch(3, { port: 10000 }),
      'dbid 2 and dbid 3 both use port 10000 on segment-1',
    ],
    [
      'a data directory used twice',
      patch(3, { datadir: '/data1/primary/gpseg0' }),
      'dbid 2 and dbid 3 both use data directory /data1/primary/gpseg0 on segment-1',
    ],
    [
      'an invalid pair state',
      patch(6, { mode: 'n' }),
      'content 0: invalid pair state (u,s,u,n) (primary dbid 2, mirror dbid 6)',
    ],
    [
      'an acting primary shown down',
      patch(2, { status: 'd', mode: 'n' }).map((r) =>
        r.dbid === 6 ? { ...r, mode: 'n' as const } : r,
      ),
      'content 0: invalid pair state (d,n,u,n)',
    ],
    [
      'no coordinator',
      seed.filter((r) => r.dbid !== 1),
      'content -1 must have exactly one coordinator (role p), found 0',
    ],
    [
      'two preferred primaries',
      patch(6, { preferred_role: 'p' }),
      'content 0: preferred roles must be one p and one m',
    ],
    ['no segments', seed.filter((r) => r.content === -1), 'the cluster has no segments'],
  ])('refuses %s', (_name, rows, message) => {
    expect(configurationProblems(rows).join('\n')).toContain(message);
  });
});

describe('a moved row', () => {
  const moved = (to: Partial<SegmentRow>) => patch(6, { hostname: 'segment-1', ...to });
  it.each<[string, Partial<SegmentRow>]>([
    [
      'onto a port in use before it and a data directory after it',
      { port: 10000, datadir: '/data1/mirror/gpseg2' },
    ],
    [
      'onto a port in use after it and a data directory before it',
      { port: 10501, datadir: '/data1/primary/gpseg0' },
    ],
    ['onto a port and data directory of one row', { port: 10500, datadir: '/data1/mirror/gpseg2' }],
    ['to a free place', { port: 10600, datadir: '/data1/mirror/gpseg0' }],
  ])(
    '%s: the problems configurationProblems names it in, found from its place alone',
    (_name, to) => {
      const rows = moved(to);
      expect(
        locationProblems(
          rows,
          rows.find((r) => r.dbid === 6)!,
        ),
      ).toEqual(configurationProblems(rows).filter((p) => p.includes('dbid 6')));
    },
  );

  it('names both rows, the earlier first', () => {
    const rows = moved({ port: 10000, datadir: '/data1/mirror/gpseg2' });
    expect(
      locationProblems(
        rows,
        rows.find((r) => r.dbid === 6)!,
      ),
    ).toEqual([
      'dbid 2 and dbid 6 both use port 10000 on segment-1',
      'dbid 6 and dbid 8 both use data directory /data1/mirror/gpseg2 on segment-1',
    ]);
  });
});
