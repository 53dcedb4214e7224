import { expect, it } from 'vitest';
import { decide, type Table } from '#domain/rules.ts';
import type { Pair, SegmentRow } from '#domain/segment.ts';

/**
 * One case per row of a table: each names the row (by its position, from 1 as the rule book
 * prints it) that must be the first to match. Every row must be named by some case, so a row
 * that no input reaches (shadowed by the rows above it) fails here.
 */
export function everyRow<C, R>(table: Table<C, R>, cases: readonly [row: number, context: C][]) {
  it.each(cases.map(([row, context]) => [row, table[row - 1]?.rule ?? '?', context] as const))(
    'row %i is the first to match: %s',
    (row, rule, context) => {
      expect(decide(table, context)).toEqual({ rule, then: table[row - 1]!.then });
    },
  );

  it('every row is reached by a case', () => {
    expect([...new Set(cases.map(([row]) => row))].sort((a, b) => a - b)).toEqual(
      table.map((_, i) => i + 1),
    );
  });
}

/** A segment row of a small test cluster: dbid and content, the rest as a healthy one. */
export const row = (
  over: Partial<SegmentRow> & Pick<SegmentRow, 'dbid' | 'content'>,
): SegmentRow => ({
  role: 'p',
  preferred_role: 'p',
  mode: 's',
  status: 'u',
  port: 6000 + over.dbid,
  hostname: 'sdw1',
  address: 'sdw1',
  datadir: `/data/gpseg${over.content}`,
  ...over,
});

/** Content 0's pair, healthy and in sync unless told otherwise. */
export const pair = (
  primary: Partial<SegmentRow> = {},
  mirror: Partial<SegmentRow> | undefined = {},
): Pair => ({
  content: 0,
  primary: row({ dbid: 2, content: 0, ...primary }),
  mirror:
    mirror &&
    row({
      dbid: 6,
      content: 0,
      role: 'm',
      preferred_role: 'm',
      hostname: 'sdw2',
      address: 'sdw2',
      ...mirror,
    }),
});
