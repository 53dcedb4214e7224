import { UnknownHost, UnknownSegment, UnsupportedFault } from '#cluster/simulated/errors.ts';
import { RECOVERY_TOOL } from '#cluster/simulated/gprecoverseg.ts';
import {
  assertCatalogValid,
  clone,
  copiedKb,
  durationMs,
  indexOf,
  isHostDown,
  log,
  processOf,
  setRunning,
  type OperationItem,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';
import { advanceInPlace } from '#cluster/simulated/timeline.ts';
import type { SegmentRow } from '#domain/segment.ts';

function rowOf(state: SimulatedClusterState, dbid: number): SegmentRow {
  const row = state.catalog.find((r) => r.dbid === dbid);
  if (!row) throw new UnknownSegment([dbid]);
  return row;
}

/**
 * Stops the postmasters of `rows` at once (SIGKILL, power loss): a coordinator's or standby's
 * leaves its socket lock behind (capture 126).
 */
function kill(draft: SimulatedClusterState, rows: readonly SegmentRow[], at: number): void {
  const index = indexOf(draft);
  for (const row of rows) {
    const process = processOf(draft, row.dbid);
    if (row.content === -1 && process.running) process.socketLockLeft = true;
    setRunning(draft, index, row.dbid, false, at);
  }
}

function fail(item: OperationItem, at: number, reason: string, completedKb: number): void {
  item.outcome = 'failed';
  item.resolvedAt = at;
  item.completedKb = completedKb;
  item.failure = { reason, needsFull: false };
}

/** Copies whose target host went away or whose source stopped die with the fault. */
export function interruptCopies(state: SimulatedClusterState, at: number): void {
  const { byDbid } = indexOf(state);
  for (const op of state.operations) {
    if (op.finishedAt !== undefined) continue;
    for (const item of op.items) {
      if (item.outcome !== 'copying') continue;
      const row = byDbid.get(item.dbid);
      const source = byDbid.get(item.sourceDbid);
      if (row && isHostDown(state, row.hostname))
        fail(item, at, `Host ${row.hostname} is unreachable`, copiedKb(item, at));
      else if (source && !processOf(state, source.dbid).running)
        fail(
          item,
          at,
          `${RECOVERY_TOOL[item.type]}: error: could not connect to source dbid ${source.dbid} on ${source.hostname}:${source.port}: Connection refused`,
          copiedKb(item, at),
        );
    }
  }
}

function applyFault(
  state: SimulatedClusterState,
  now: number,
  step: string,
  change: (draft: SimulatedClusterState, at: number) => void,
): SimulatedClusterState {
  const draft = clone(state);
  advanceInPlace(draft, now);
  change(draft, draft.now);
  interruptCopies(draft, draft.now);
  advanceInPlace(draft, draft.now);
  assertCatalogValid(draft, step);
  return draft;
}

/**
 * The hosts are powered off in the same instant (one host, or a rack): every postmaster on them
 * stops at once, the coordinator's or the standby's too, and the hosts answer nothing.
 */
export function failHosts(
  state: SimulatedClusterState,
  now: number,
  hosts: readonly string[],
): SimulatedClusterState {
  const rowsOf = new Map(hosts.map((host) => [host, [] as SegmentRow[]]));
  for (const row of state.catalog) rowsOf.get(row.hostname)?.push(row);
  for (const [host, rows] of rowsOf) {
    if (rows.length === 0) throw new UnknownHost(host);
  }
  return applyFault(state, now, `failHosts(${hosts.join(', ')})`, (draft, at) => {
    const restartSeconds = draft.options.hostRestartSeconds;
    for (const [host, rows] of rowsOf) {
      draft.downHosts[host] =
        restartSeconds === null ? null : at + durationMs(draft, restartSeconds);
      kill(draft, rows, at);
      log(draft, at, `host ${host} is down: dbid ${rows.map((r) => r.dbid).join(', ')} stopped`);
    }
  });
}

/** One host powered off. */
export function failHost(
  state: SimulatedClusterState,
  now: number,
  host: string,
): SimulatedClusterState {
  return failHosts(state, now, [host]);
}

/** The host is powered on again; its segments stay stopped until a recovery starts them. */
export function restoreHost(
  state: SimulatedClusterState,
  now: number,
  host: string,
): SimulatedClusterState {
  // A host stays known while down even after every segment was relocated away from it.
  if (!(host in state.downHosts) && !state.catalog.some((row) => row.hostname === host))
    throw new UnknownHost(host);
  return applyFault(state, now, `restoreHost(${host})`, (draft, at) => {
    if (!(host in draft.downHosts)) return;
    delete draft.downHosts[host];
    log(draft, at, `host ${host} is reachable again`);
  });
}

/**
 * The postmaster is gone (killed, OOM, crash); the data directory is intact and the host
 * answers. The coordinator's leaves its socket lock (capture 126); nothing restarts it.
 */
export function crashSegment(
  state: SimulatedClusterState,
  now: number,
  dbid: number,
): SimulatedClusterState {
  rowOf(state, dbid);
  return applyFault(state, now, `crashSegment(${dbid})`, (draft, at) => {
    kill(draft, [rowOf(draft, dbid)], at);
    log(draft, at, `dbid ${dbid}: postmaster terminated`);
  });
}

/** The disk under the data directory is gone: the segment stops and only a full recovery rebuilds it. */
export function loseDataDirectory(
  state: SimulatedClusterState,
  now: number,
  dbid: number,
): SimulatedClusterState {
  const row = rowOf(state, dbid);
  if (row.content === -1)
    throw new UnsupportedFault(
      `dbid ${dbid} is a coordinator (content -1): losing its data directory is not simulated; crash it (kind crash) or fail its host`,
    );
  return applyFault(state, now, `loseDataDirectory(${dbid})`, (draft, at) => {
    setRunning(draft, indexOf(draft), dbid, false, at);
    Object.assign(processOf(draft, dbid), { dataLost: true, rewindBroken: true });
    log(draft, at, `dbid ${dbid}: data directory ${row.datadir} on ${row.hostname} lost`);
  });
}

/**
 * The standby falls `bytes` (more) behind: the coordinator writes WAL the standby has not
 * flushed, and it cannot keep up (pg_stat_replication shows it catching up, `potential`) until
 * it is activated, losing that WAL, or replaced.
 */
export function lagStandby(
  state: SimulatedClusterState,
  now: number,
  dbid: number,
  bytes: number,
): SimulatedClusterState {
  const row = rowOf(state, dbid);
  if (row.content !== -1 || row.role !== 'm')
    throw new UnsupportedFault(
      `dbid ${dbid} is not the standby coordinator (content -1, role m): only the standby falls behind by a fault; crash a segment instead`,
    );
  return applyFault(state, now, `lagStandby(${dbid})`, (draft, at) => {
    draft.standbyBehindBytes += bytes;
    draft.coordinatorWalBytes += bytes;
    log(draft, at, `dbid ${dbid}: the standby is ${draft.standbyBehindBytes} bytes of WAL behind`);
  });
}
