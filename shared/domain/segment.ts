import * as z from '#domain/zod.ts';

/**
 * One row of gp_segment_configuration (Greenplum 6/7, Cloudberry). Host names and data
 * directories end up in shell commands on the coordinator, so their alphabets are closed here,
 * once, rather than escaped downstream.
 */
export const hostnameSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(253),
    z.regex(
      /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/,
      'must be a host name (letters, digits, ".", "-", "_")',
    ),
  );

export const datadirSchema = z.string().check(
  z.minLength(2),
  z.maxLength(1024),
  z.regex(
    /^\/[A-Za-z0-9._/-]+$/,
    'must be an absolute path of letters, digits, ".", "-", "_", "/"',
  ),
  z.refine((p) => !p.split('/').includes('..'), 'must not contain ".."'),
);

export const portSchema = z.int().check(z.minimum(1), z.maximum(65535));
export const dbidSchema = z.int().check(z.minimum(1), z.maximum(1_000_000));
export const contentSchema = z.int().check(z.minimum(-1), z.maximum(1_000_000));

export const roleSchema = z.enum(['p', 'm']);
export const modeSchema = z.enum(['s', 'n']);
export const statusSchema = z.enum(['u', 'd']);

export const segmentRowSchema = z.strictObject({
  dbid: dbidSchema,
  content: contentSchema,
  role: roleSchema,
  preferred_role: roleSchema,
  mode: modeSchema,
  status: statusSchema,
  port: portSchema,
  hostname: hostnameSchema,
  address: hostnameSchema,
  datadir: datadirSchema,
});

export type SegmentRow = z.infer<typeof segmentRowSchema>;
export type Role = z.infer<typeof roleSchema>;
export type Mode = z.infer<typeof modeSchema>;
export type Status = z.infer<typeof statusSchema>;

/** Where a segment lives; a relocation (`gprecoverseg -p` / `-i` with a target) changes all four. */
export const segmentLocationSchema = z.strictObject({
  hostname: hostnameSchema,
  address: hostnameSchema,
  port: portSchema,
  datadir: datadirSchema,
});
export type SegmentLocation = z.infer<typeof segmentLocationSchema>;

export const locationOf = (row: SegmentLocation): SegmentLocation => ({
  hostname: row.hostname,
  address: row.address,
  port: row.port,
  datadir: row.datadir,
});

export const sameLocation = (a: SegmentLocation, b: SegmentLocation): boolean =>
  a.hostname === b.hostname &&
  a.address === b.address &&
  a.port === b.port &&
  a.datadir === b.datadir;

export const COLUMNS = [
  'dbid',
  'content',
  'role',
  'preferred_role',
  'mode',
  'status',
  'port',
  'hostname',
  'address',
  'datadir',
] as const satisfies readonly (keyof SegmentRow)[];

/** The seed's order: content ascending, the acting primary of each content first. */
export function compareRows(a: SegmentRow, b: SegmentRow): number {
  if (a.content !== b.content) return a.content - b.content;
  if (a.role !== b.role) return a.role === 'p' ? -1 : 1;
  return a.dbid - b.dbid;
}

export function sortRows(rows: Iterable<SegmentRow>): SegmentRow[] {
  return [...rows].sort(compareRows);
}

export const isCoordinator = (row: SegmentRow): boolean => row.content === -1;

/** A content's acting primary and its mirror (if any), as the fold and the decisions see them. */
export interface Pair {
  content: number;
  primary: SegmentRow;
  mirror: SegmentRow | undefined;
}

/** Groups segment rows (content >= 0) into pairs, ordered by content. */
export function pairsOf(rows: Iterable<SegmentRow>): Pair[] {
  const byContent = new Map<number, { primary?: SegmentRow; mirror?: SegmentRow }>();
  for (const row of rows) {
    if (isCoordinator(row)) continue;
    const entry = byContent.get(row.content) ?? {};
    if (row.role === 'p') entry.primary = row;
    else entry.mirror = row;
    byContent.set(row.content, entry);
  }
  const pairs: Pair[] = [];
  for (const [content, { primary, mirror }] of [...byContent].sort((a, b) => a[0] - b[0])) {
    if (primary) pairs.push({ content, primary, mirror });
  }
  return pairs;
}

export const isSynchronized = (pair: Pair): boolean =>
  pair.mirror !== undefined &&
  pair.primary.mode === 's' &&
  pair.mirror.mode === 's' &&
  pair.mirror.status === 'u';

export const isInPreferredRoles = (pair: Pair): boolean =>
  pair.primary.preferred_role === 'p' && (pair.mirror?.preferred_role ?? 'm') === 'm';

export const describeLocation = (row: Pick<SegmentRow, 'hostname' | 'port' | 'datadir'>): string =>
  `${row.hostname}:${row.port}:${row.datadir}`;
