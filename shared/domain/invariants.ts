import type { Pair, SegmentRow } from '#domain/segment.ts';

/**
 * The only pair states Greenplum 6+ ever shows, as (primary status, mode, mirror status, mode).
 * A content without a mirror shows its primary `u`/`n`.
 */
export const VALID_PAIR_STATES: readonly string[] = ['u,s,u,s', 'u,n,u,n', 'u,n,d,n', 'u,n'];

export const pairState = (pair: Pair): string =>
  pair.mirror
    ? `${pair.primary.status},${pair.primary.mode},${pair.mirror.status},${pair.mirror.mode}`
    : `${pair.primary.status},${pair.primary.mode}`;

/** VALID_PAIR_STATES as (status, mode) lists, read by isValidPair without building text. */
const VALID_PAIR_FIELDS = VALID_PAIR_STATES.map((state) => state.split(','));

/** Whether a pair's state is one of VALID_PAIR_STATES (checked after every event of a fold). */
export function isValidPair({ primary, mirror }: Pair): boolean {
  for (const valid of VALID_PAIR_FIELDS) {
    if (valid[0] !== primary.status || valid[1] !== primary.mode) continue;
    if (mirror ? valid[2] === mirror.status && valid[3] === mirror.mode : valid.length === 2)
      return true;
  }
  return false;
}

/** Problems with one pair, each naming the content and the dbids involved. */
export function pairProblems(pair: Pair): string[] {
  if (isValidPair(pair)) return [];
  const state = pairState(pair);
  const who = pair.mirror
    ? `primary dbid ${pair.primary.dbid}, mirror dbid ${pair.mirror.dbid}`
    : `primary dbid ${pair.primary.dbid}, no mirror`;
  return [`content ${pair.content}: invalid pair state (${state}) (${who})`];
}

/** Every structural rule of gp_segment_configuration; an empty list means the rows are valid. */
export function configurationProblems(rows: readonly SegmentRow[]): string[] {
  // One pass, no text built unless a rule is broken: the fold checks every row at registration.
  const problems: string[] = [];
  const dbids = new Set<number>();
  const byContent = new Map<number, SegmentRow[]>();
  /** Per host: the dbid last seen on each port and on each data directory. */
  const hosts = new Map<string, { ports: Map<number, number>; datadirs: Map<string, number> }>();
  for (const row of rows) {
    if (dbids.has(row.dbid)) problems.push(`dbid ${row.dbid} appears twice`);
    dbids.add(row.dbid);
    const members = byContent.get(row.content);
    if (members) members.push(row);
    else byContent.set(row.content, [row]);
    let host = hosts.get(row.hostname);
    if (!host) hosts.set(row.hostname, (host = { ports: new Map(), datadirs: new Map() }));
    const otherPort = host.ports.get(row.port);
    if (otherPort !== undefined)
      problems.push(
        `dbid ${otherPort} and dbid ${row.dbid} both use port ${row.port} on ${row.hostname}`,
      );
    host.ports.set(row.port, row.dbid);
    const otherDir = host.datadirs.get(row.datadir);
    if (otherDir !== undefined)
      problems.push(
        `dbid ${otherDir} and dbid ${row.dbid} both use data directory ${row.datadir} on ${row.hostname}`,
      );
    host.datadirs.set(row.datadir, row.dbid);
  }

  const coordinators = byContent.get(-1) ?? [];
  const coordinatorPrimaries = coordinators.filter((r) => r.role === 'p');
  if (coordinatorPrimaries.length !== 1)
    problems.push(
      `content -1 must have exactly one coordinator (role p), found ${coordinatorPrimaries.length}`,
    );
  if (coordinators.filter((r) => r.role === 'm').length > 1)
    problems.push('content -1 has more than one standby coordinator');

  const sorted = [...byContent.keys()].sort((a, b) => a - b);
  const contents = sorted.filter((c) => c >= 0);
  if (contents.length === 0) problems.push('the cluster has no segments (contents 0..N-1)');
  const missing: number[] = [];
  const last = contents.at(-1) ?? -1;
  for (let c = 0; c <= last && missing.length < 10; c++) if (!byContent.has(c)) missing.push(c);
  if (missing.length > 0)
    problems.push(`contents must be 0..N-1 without gaps: missing ${missing.join(', ')}`);

  for (const content of contents) {
    const members = byContent.get(content)!;
    let primaries = 0;
    let mirrors = 0;
    for (const r of members) {
      if (r.role === 'p') primaries++;
      else if (r.role === 'm') mirrors++;
    }
    if (primaries !== 1) {
      const dbidsOf = members.filter((r) => r.role === 'p').map((r) => r.dbid);
      problems.push(
        primaries === 0
          ? `content ${content} has no acting primary (dbids ${members.map((r) => r.dbid).join(', ')})`
          : `content ${content} has ${primaries === 2 ? 'two' : primaries} acting primaries (dbid ${dbidsOf.join(', ')})`,
      );
    }
    if (mirrors > 1)
      problems.push(
        `content ${content} has more than one mirror (dbid ${members
          .filter((r) => r.role === 'm')
          .map((r) => r.dbid)
          .join(', ')})`,
      );
    if (primaries === 1 && members.length === 2 && !isOnePreferredPrimary(members[0]!, members[1]!))
      problems.push(
        `content ${content}: preferred roles must be one p and one m (dbid ${members.map((r) => `${r.dbid}=${r.preferred_role}`).join(', ')})`,
      );
  }
  // Every content but the coordinator's, as pairsOf groups it: the last acting primary and the
  // last other row.
  for (const content of sorted) {
    const members = byContent.get(content)!;
    if (content === -1 || members.length > 2) continue;
    let primary: SegmentRow | undefined;
    let mirror: SegmentRow | undefined;
    for (const r of members) {
      if (r.role === 'p') primary = r;
      else mirror = r;
    }
    if (primary) problems.push(...pairProblems({ content, primary, mirror }));
  }
  return problems;
}

/**
 * What a row moved into a valid configuration (a relocation, a new standby) can break, in
 * configurationProblems' words and order: a port or data directory another row uses on its
 * host. One pass over the rows, not every rule over every row for each of thousands of moves.
 */
export function locationProblems(rows: Iterable<SegmentRow>, moved: SegmentRow): string[] {
  const port = (a: number, b: number) =>
    `dbid ${a} and dbid ${b} both use port ${moved.port} on ${moved.hostname}`;
  const datadir = (a: number, b: number) =>
    `dbid ${a} and dbid ${b} both use data directory ${moved.datadir} on ${moved.hostname}`;
  // Rows before the moved one are named at its turn (the last of them, as a rule's last seen);
  // rows after it, at theirs.
  let portBefore: number | undefined;
  let datadirBefore: number | undefined;
  const after: string[] = [];
  let passed = false;
  for (const row of rows) {
    if (row.dbid === moved.dbid) {
      passed = true;
      continue;
    }
    if (row.hostname !== moved.hostname) continue;
    if (row.port === moved.port) {
      if (passed) after.push(port(moved.dbid, row.dbid));
      else portBefore = row.dbid;
    }
    if (row.datadir === moved.datadir) {
      if (passed) after.push(datadir(moved.dbid, row.dbid));
      else datadirBefore = row.dbid;
    }
  }
  return [
    ...(portBefore === undefined ? [] : [port(portBefore, moved.dbid)]),
    ...(datadirBefore === undefined ? [] : [datadir(datadirBefore, moved.dbid)]),
    ...after,
  ];
}

const isOnePreferredPrimary = (a: SegmentRow, b: SegmentRow): boolean =>
  (a.preferred_role === 'p' && b.preferred_role === 'm') ||
  (a.preferred_role === 'm' && b.preferred_role === 'p');
