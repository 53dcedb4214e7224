import { isCoordinator, pairsOf, type Pair, type SegmentRow } from '#domain/segment.ts';

/**
 * The only pair states Greenplum 6+ ever shows, as (primary status, mode, mirror status, mode).
 * A content without a mirror shows its primary `u`/`n`.
 */
export const VALID_PAIR_STATES: readonly string[] = ['u,s,u,s', 'u,n,u,n', 'u,n,d,n', 'u,n'];

export const pairState = (pair: Pair): string =>
  pair.mirror
    ? `${pair.primary.status},${pair.primary.mode},${pair.mirror.status},${pair.mirror.mode}`
    : `${pair.primary.status},${pair.primary.mode}`;

/** Problems with one pair, each naming the content and the dbids involved. */
export function pairProblems(pair: Pair): string[] {
  const state = pairState(pair);
  if (VALID_PAIR_STATES.includes(state)) return [];
  const who = pair.mirror
    ? `primary dbid ${pair.primary.dbid}, mirror dbid ${pair.mirror.dbid}`
    : `primary dbid ${pair.primary.dbid}, no mirror`;
  return [`content ${pair.content}: invalid pair state (${state}) (${who})`];
}

/** Every structural rule of gp_segment_configuration; an empty list means the rows are valid. */
export function configurationProblems(rows: readonly SegmentRow[]): string[] {
  const problems: string[] = [];
  const dbids = new Map<number, number>();
  const byContent = new Map<number, SegmentRow[]>();
  const ports = new Map<string, number>();
  const datadirs = new Map<string, number>();
  for (const row of rows) {
    const seen = dbids.get(row.dbid);
    if (seen !== undefined) problems.push(`dbid ${row.dbid} appears twice`);
    dbids.set(row.dbid, row.content);
    byContent.set(row.content, [...(byContent.get(row.content) ?? []), row]);
    const hostPort = `${row.hostname}:${row.port}`;
    const otherPort = ports.get(hostPort);
    if (otherPort !== undefined)
      problems.push(
        `dbid ${otherPort} and dbid ${row.dbid} both use port ${row.port} on ${row.hostname}`,
      );
    ports.set(hostPort, row.dbid);
    const hostDir = `${row.hostname}:${row.datadir}`;
    const otherDir = datadirs.get(hostDir);
    if (otherDir !== undefined)
      problems.push(
        `dbid ${otherDir} and dbid ${row.dbid} both use data directory ${row.datadir} on ${row.hostname}`,
      );
    datadirs.set(hostDir, row.dbid);
  }

  const coordinators = byContent.get(-1) ?? [];
  const coordinatorPrimaries = coordinators.filter((r) => r.role === 'p');
  if (coordinatorPrimaries.length !== 1)
    problems.push(
      `content -1 must have exactly one coordinator (role p), found ${coordinatorPrimaries.length}`,
    );
  if (coordinators.filter((r) => r.role === 'm').length > 1)
    problems.push('content -1 has more than one standby coordinator');

  const contents = [...byContent.keys()].filter((c) => c >= 0).sort((a, b) => a - b);
  if (contents.length === 0) problems.push('the cluster has no segments (contents 0..N-1)');
  const missing: number[] = [];
  const last = contents.at(-1) ?? -1;
  for (let c = 0; c <= last && missing.length < 10; c++) if (!byContent.has(c)) missing.push(c);
  if (missing.length > 0)
    problems.push(`contents must be 0..N-1 without gaps: missing ${missing.join(', ')}`);

  for (const content of contents) {
    const members = byContent.get(content) ?? [];
    const primaries = members.filter((r) => r.role === 'p');
    const mirrors = members.filter((r) => r.role === 'm');
    if (primaries.length !== 1)
      problems.push(
        primaries.length === 0
          ? `content ${content} has no acting primary (dbids ${members.map((r) => r.dbid).join(', ')})`
          : `content ${content} has ${primaries.length === 2 ? 'two' : primaries.length} acting primaries (dbid ${primaries.map((r) => r.dbid).join(', ')})`,
      );
    if (mirrors.length > 1)
      problems.push(
        `content ${content} has more than one mirror (dbid ${mirrors.map((r) => r.dbid).join(', ')})`,
      );
    if (primaries.length === 1 && mirrors.length <= 1) {
      const prefs = members
        .map((r) => r.preferred_role)
        .sort()
        .join('');
      if (members.length === 2 && prefs !== 'mp')
        problems.push(
          `content ${content}: preferred roles must be one p and one m (dbid ${members.map((r) => `${r.dbid}=${r.preferred_role}`).join(', ')})`,
        );
    }
  }
  for (const pair of pairsOf(rows.filter((r) => !isCoordinator(r)))) {
    const group = byContent.get(pair.content) ?? [];
    if (group.length <= 2) problems.push(...pairProblems(pair));
  }
  return problems;
}
