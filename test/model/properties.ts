import { configurationOf, emptyState, evolve, type ClusterState } from '#domain/evolve.ts';
import type { RecordedEvent } from '#domain/events.ts';
import { configurationProblems } from '#domain/invariants.ts';
import { pairsOf, sortRows, type SegmentRow } from '#domain/segment.ts';
import type { SimulatedClusterState } from '#cluster/simulated/model.ts';

/*
 * The properties every command must keep, as functions returning the problems found (empty:
 * the property holds). Each names the cluster objects involved, so a failing run reads as a
 * Greenplum incident report, not as a diff of objects.
 */

/** Valid pair states, one acting primary per content, contiguous contents, unique dbids/ports. */
export const catalogProblems = (where: string, rows: readonly SegmentRow[]): string[] =>
  configurationProblems(rows).map((p) => `${where}: ${p}`);

const FTS_UPDATE =
  /^FTS: update role, status, and mode for dbid (\d+) with contentid (-?\d+) to ([pm]), ([ud]), and ([sn])$/;

/**
 * Replays the simulator's gp_configuration_history from the registered catalog: every row
 * change must be one FTS line, a mirror may only become acting primary while it is up and in
 * sync, and at no line may a content have two acting primaries. The replay must end at the
 * catalog the simulator shows. Returns undefined when the log was trimmed (over 1000 lines).
 */
export function ftsHistoryProblems(
  initial: readonly SegmentRow[],
  sim: SimulatedClusterState,
): string[] | undefined {
  if (sim.log.length >= 1000) return undefined;
  const rows = new Map(initial.map((r) => [r.dbid, { ...r }]));
  const problems: string[] = [];
  for (const { message } of sim.log) {
    const m = FTS_UPDATE.exec(message);
    if (!m) continue;
    const [dbid, content] = [Number(m[1]), Number(m[2])];
    const row = rows.get(dbid);
    if (!row) {
      problems.push(`history names dbid ${dbid}, which is not in the cluster`);
      continue;
    }
    const next = {
      ...row,
      role: m[3] as 'p' | 'm',
      status: m[4] as 'u' | 'd',
      mode: m[5] as 's' | 'n',
    };
    if (row.role === 'm' && next.role === 'p' && !(row.status === 'u' && row.mode === 's'))
      problems.push(
        `"${message}": FTS promoted mirror dbid ${dbid} of content ${content} while it was ${row.status},${row.mode} (not in sync)`,
      );
    rows.set(dbid, next);
    const primaries = [...rows.values()].filter((r) => r.content === content && r.role === 'p');
    if (primaries.length > 1)
      problems.push(
        `"${message}": content ${content} has acting primaries dbid ${primaries.map((r) => r.dbid).join(' and ')}`,
      );
  }
  for (const actual of sim.catalog) {
    const replayed = rows.get(actual.dbid);
    if (
      !replayed ||
      replayed.role !== actual.role ||
      replayed.status !== actual.status ||
      replayed.mode !== actual.mode
    )
      problems.push(
        `dbid ${actual.dbid}: catalog shows ${actual.role},${actual.status},${actual.mode} but its FTS history ends at ${replayed ? `${replayed.role},${replayed.status},${replayed.mode}` : 'nothing'}`,
      );
  }
  return problems;
}

export interface LogReplay {
  state: ClusterState;
  problems: string[];
}

/**
 * Folds the log event by event, checking what the fold itself also refuses (so a weakened
 * fold cannot hide it): seq 1..n without gaps or duplicates, every MirrorPromoted of a mirror
 * that was up and in sync, and a valid catalog after every event.
 */
export function replayLog(events: readonly RecordedEvent[]): LogReplay {
  const problems: string[] = [];
  let state = emptyState();
  const seqs = events.map((e) => e.seq);
  if (new Set(seqs).size !== seqs.length)
    problems.push(`the log repeats seq ${seqs.filter((s, i) => seqs.indexOf(s) !== i).join(', ')}`);
  seqs.forEach((seq, i) => {
    if (seq !== i + 1 && problems.length < 20)
      problems.push(`the log's event ${i + 1} has seq ${seq}`);
  });
  for (const event of events) {
    if (event.type === 'MirrorPromoted') {
      const mirror = state.segments.get(event.data.promotedDbid);
      const primary = state.segments.get(event.data.demotedDbid);
      if (
        !mirror ||
        mirror.role !== 'm' ||
        mirror.status !== 'u' ||
        mirror.mode !== 's' ||
        primary?.mode !== 's'
      )
        problems.push(
          `seq ${event.seq}: MirrorPromoted of dbid ${event.data.promotedDbid} (content ${event.data.content}) while the log shows it ${mirror ? `${mirror.role},${mirror.status},${mirror.mode}` : 'missing'}: a mirror not in sync was promoted`,
        );
    }
    try {
      state = evolve(state, event);
    } catch (error) {
      problems.push(`seq ${event.seq} (${event.type}) does not fold: ${(error as Error).message}`);
      break;
    }
    if (state.registration === undefined)
      problems.push(
        ...catalogProblems(`after seq ${event.seq} (${event.type})`, configurationOf(state)),
      );
  }
  return { state, problems };
}

/** JSON with object keys sorted, so equal values print equal. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/** The log's view as plain JSON, the way the projection stores it. */
export function stateDocument(state: ClusterState): unknown {
  return canonical(
    JSON.parse(
      JSON.stringify({
        seq: state.seq,
        segments: configurationOf(state),
        registration: state.registration,
        doubleFaults: state.doubleFaults,
        recovery: state.recovery,
        lastIncident: state.lastIncident,
      }),
    ),
  );
}

/** Every pair up and synchronized (and, when asked, in its preferred roles); no double fault. */
export function healthProblems(
  where: string,
  rows: readonly SegmentRow[],
  preferredRoles: boolean,
): string[] {
  const problems: string[] = [];
  for (const pair of pairsOf(rows)) {
    const { primary, mirror } = pair;
    if (!mirror) continue;
    if (
      primary.status !== 'u' ||
      mirror.status !== 'u' ||
      primary.mode !== 's' ||
      mirror.mode !== 's'
    )
      problems.push(
        `${where}: content ${pair.content} is (${primary.status},${primary.mode},${mirror.status},${mirror.mode}), not up and synchronized`,
      );
    if (preferredRoles && (primary.preferred_role !== 'p' || mirror.preferred_role !== 'm'))
      problems.push(
        `${where}: content ${pair.content} acts in switched roles (primary dbid ${primary.dbid} prefers ${primary.preferred_role})`,
      );
  }
  return problems;
}

export const sameRows = (a: readonly SegmentRow[], b: readonly SegmentRow[]): boolean =>
  JSON.stringify(canonical(sortRows(a))) === JSON.stringify(canonical(sortRows(b)));
