import {
  emptyState,
  foldSteps,
  type ClusterState,
  type FoldableEvent,
  type RowChange,
} from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { COLUMNS, isCoordinator, pairsOf, sortRows, type SegmentRow } from '#domain/segment.ts';

/** gp_segment_configuration as the seed incident records it: a markdown table, seed row order. */
export function renderConfigurationTable(rows: Iterable<SegmentRow>): string {
  const header = `|${COLUMNS.join('|')}|`;
  const rule = `|${COLUMNS.map((c) => '-'.repeat(c.length)).join('|')}|`;
  const body = sortRows(rows).map((row) => `|${COLUMNS.map((c) => String(row[c])).join('|')}|`);
  return [header, rule, ...body].join('\n');
}

/**
 * gp_configuration_history descriptions for what one event changed, in the words FTS and
 * gprecoverseg use: `changes`, the rows it changed (foldSteps).
 */
export function historyLines(
  event: NewEvent,
  changes: ReadonlyMap<number, RowChange>,
): { dbid: number; desc: string }[] {
  // A double fault writes nothing to gp_configuration_history (real capture 80i): only the
  // role swap FTS makes on the catalog's word shows, as an ordinary update.
  const lines: { dbid: number; desc: string }[] = [];
  if (event.type === 'ClusterRegistered') {
    for (const row of event.data.segments)
      lines.push({
        dbid: row.dbid,
        desc: `gpinitsystem: segment config for content ${row.content}: ${row.role}, ${row.status}, and ${row.mode} on ${row.hostname}:${row.port}`,
      });
    return lines;
  }
  for (const [dbid, { before: old, after: row }] of changes) {
    if (!old || !row) continue;
    if (old.hostname !== row.hostname || old.port !== row.port || old.datadir !== row.datadir)
      lines.push({
        dbid,
        desc: `gprecoverseg: segment config for content ${row.content} moved from ${old.hostname}:${old.port}:${old.datadir} to ${row.hostname}:${row.port}:${row.datadir}`,
      });
    if (old.role !== row.role || old.status !== row.status || old.mode !== row.mode)
      lines.push({
        dbid,
        desc: `FTS: update role, status, and mode for dbid ${dbid} with contentid ${row.content} to ${row.role}, ${row.status}, and ${row.mode}`,
      });
  }
  return lines.sort((a, b) => a.dbid - b.dbid);
}

function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map(
    (h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)) + 3,
  );
  const line = (cells: string[], padLast: boolean) =>
    '   ' +
    cells
      .map((cell, i) => (i < cells.length - 1 || padLast ? cell.padEnd(widths[i] ?? 0) : cell))
      .join('');
  return [line(headers, true), ...rows.map((r) => line(r, false))];
}

const SEPARATOR_M = '-'.repeat(61);
const SEPARATOR_E = '-'.repeat(52);
const BANNER = '*'.repeat(53);

/** `Group` when every primary host keeps all of its mirrors on a single other host. */
export function mirroringType(rows: Iterable<SegmentRow>): 'Group' | 'Spread' {
  const mirrorHostsByPrimaryHost = new Map<string, Set<string>>();
  for (const pair of pairsOf(rows)) {
    if (!pair.mirror) continue;
    const preferredPrimary = pair.primary.preferred_role === 'p' ? pair.primary : pair.mirror;
    const preferredMirror = preferredPrimary === pair.primary ? pair.mirror : pair.primary;
    const hosts = mirrorHostsByPrimaryHost.get(preferredPrimary.hostname) ?? new Set();
    hosts.add(preferredMirror.hostname);
    mirrorHostsByPrimaryHost.set(preferredPrimary.hostname, hosts);
  }
  return [...mirrorHostsByPrimaryHost.values()].every((h) => h.size <= 1) ? 'Group' : 'Spread';
}

/**
 * `gpstate -m`: one line per segment whose preferred role is mirror. Lines are what gpstate
 * prints after its `[INFO]:-` log prefix.
 */
export function renderGpstateMirrors(rows: Iterable<SegmentRow>): string[] {
  const all = [...rows];
  const mirrors = sortRows(all.filter((r) => !isCoordinator(r) && r.preferred_role === 'm'));
  const body = mirrors.map((m) => {
    const status = m.status === 'd' ? 'Failed' : m.role === 'p' ? 'Acting as Primary' : 'Passive';
    const data = m.status === 'd' ? '' : m.mode === 's' ? 'Synchronized' : 'Not In Sync';
    return [m.address, m.datadir, String(m.port), status, data];
  });
  return [
    SEPARATOR_M,
    '-Current GPDB mirror list and status',
    `-Type = ${mirroringType(all)}`,
    SEPARATOR_M,
    ...table(['Mirror', 'Datadir', 'Port', 'Status', 'Data Status'], body),
    SEPARATOR_M,
  ];
}

/** Replication and recovery facts gpstate -e shows beside the catalog. */
export interface MirroringDetail {
  /** WAL bytes the mirror still has to receive, per content; absent = `Unknown`. */
  walRemainingBytes?: ReadonlyMap<number, number>;
  /** Segments being recovered now. */
  inRecovery?: readonly { dbid: number; type: string; completedKb: number; totalKb: number }[];
}

/** `gpstate -e`: the Segment Mirroring Status Report, each section only when it has rows. */
export function renderGpstateErrors(
  state: Pick<ClusterState, 'segments' | 'doubleFaults'>,
  detail: MirroringDetail = {},
): string[] {
  const rows = [...state.segments.values()];
  const pairs = pairsOf(rows);
  const sections: string[][] = [];

  const switched = pairs.filter((p) => p.mirror && p.primary.preferred_role !== 'p');
  if (switched.length > 0)
    sections.push([
      'Segments with Primary and Mirror Roles Switched',
      ...table(
        ['Current Primary', 'Port', 'Mirror', 'Port'],
        switched.map((p) => [
          p.primary.address,
          String(p.primary.port),
          p.mirror!.address,
          String(p.mirror!.port),
        ]),
      ),
    ]);

  const unsynced = pairs.filter(
    (p) => p.mirror && p.mirror.status === 'u' && p.primary.mode !== 's',
  );
  if (unsynced.length > 0)
    sections.push([
      'Unsynchronized Segment Pairs',
      ...table(
        ['Current Primary', 'Port', 'WAL sync remaining bytes', 'Mirror', 'Port'],
        unsynced.map((p) => [
          p.primary.address,
          String(p.primary.port),
          String(detail.walRemainingBytes?.get(p.content) ?? 'Unknown'),
          p.mirror!.address,
          String(p.mirror!.port),
        ]),
      ),
    ]);

  // A double-faulted acting primary is `u` in the catalog but its process is gone; gpstate
  // lists it among the downed segments as it could not query it (real capture 80d).
  const unavailable = pairs
    .filter((p) => state.doubleFaults.includes(p.content))
    .map((p) => p.primary);
  const downed = sortRows([
    ...rows.filter((r) => !isCoordinator(r) && r.status === 'd'),
    ...unavailable,
  ]);
  if (downed.length > 0)
    sections.push([
      'Downed Segments (may include segments where status could not be retrieved)',
      ...table(
        ['Segment', 'Port', 'Config status', 'Status'],
        downed.map((r) =>
          r.status === 'd'
            ? [r.address, String(r.port), 'Down', 'Down in configuration']
            : [r.address, String(r.port), 'Up', 'Process error -- database process may be down'],
        ),
      ),
    ]);

  const recovering = detail.inRecovery ?? [];
  if (recovering.length > 0)
    sections.push([
      'Segments in recovery',
      ...table(
        [
          'Segment contentID',
          'Port',
          'Recovery type',
          'Completed bytes (kB)',
          'Total bytes (kB)',
          'Percentage completed',
        ],
        recovering.map((r) => {
          const row = state.segments.get(r.dbid);
          const pct = r.totalKb > 0 ? Math.floor((r.completedKb * 100) / r.totalKb) : 0;
          return [
            String(row?.content ?? '?'),
            String(row?.port ?? '?'),
            r.type,
            String(r.completedKb),
            String(r.totalKb),
            `${pct}%`,
          ];
        }),
      ),
    ]);

  const out = [SEPARATOR_E, 'Segment Mirroring Status Report', SEPARATOR_E];
  if (sections.length === 0) return [...out, 'All segments are running normally'];
  for (const [i, section] of sections.entries()) {
    if (i > 0) out.push(SEPARATOR_E);
    out.push(...section);
  }
  if (unavailable.length > 0)
    out.push(
      BANNER,
      'DATABASE IS PROBABLY UNAVAILABLE',
      'Review Instance Status in log file or screen output for more information',
      BANNER,
    );
  return out;
}

export interface HistoryLine {
  seq: number;
  at: string | undefined;
  dbid: number;
  desc: string;
}

/** gp_configuration_history for a stream of events: each change, in the order it happened. */
export function historyOf(
  events: Iterable<FoldableEvent>,
  from: ClusterState = emptyState(),
): HistoryLine[] {
  const lines: HistoryLine[] = [];
  foldSteps(
    events,
    (event, seq, changes) => {
      for (const line of historyLines(event, changes)) lines.push({ seq, at: event.at, ...line });
    },
    from,
  );
  return lines;
}

export const renderHistoryLine = (line: HistoryLine): string =>
  `${line.at ?? '-'} | seq ${line.seq} | dbid ${line.dbid} | ${line.desc}`;
