import type { CoordinatorProbe, PostmasterAnswer, StandbyLocation } from '#cluster/port.ts';
import { ActiveCoordinatorProcess, StandbyCommandFailed } from '#cluster/greenplum/standby.ts';
import { UnknownHost } from '#cluster/simulated/errors.ts';
import {
  assertCoordinatorAnswers,
  hostUnreachable,
} from '#cluster/simulated/coordinator-answers.ts';
import {
  assertCatalogValid,
  clone,
  coordinatorOf,
  indexOf,
  isHostDown,
  log,
  pgIsReady,
  setRunning,
  standbyOf,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';
import { advance, advanceInPlace } from '#cluster/simulated/timeline.ts';
import type { StandbyReplication } from '#domain/events.ts';
import { standbyRow } from '#domain/coordinator-fold.ts';
import { locationOf, segmentLocationSchema, type SegmentRow } from '#domain/segment.ts';
import { parseOrThrow } from '#domain/validation.ts';

/*
 * The coordinator and its standby (captures 110-155): pg_stat_replication on the coordinator,
 * pg_isready, the fence, gpactivatestandby and gpinitstandby, as the port's
 * CoordinatorOperations asks for them. Errors are the real adapter's classes where it has one.
 */

/** `0/C000000`, as pg_stat_replication prints a location. */
export const walLocation = (bytes: number): string =>
  `${Math.floor(bytes / 2 ** 32)
    .toString(16)
    .toUpperCase()}/${(bytes % 2 ** 32).toString(16).toUpperCase()}`;

/**
 * The standby's walsender in pg_stat_replication on the coordinator at clock time `now`:
 * streaming and `sync` with all flushed (capture 114), `catchup` and `potential` while it lacks
 * WAL (a standby-lag fault), and none (`absent`) when either postmaster does not run or there is no standby:
 * the catalog keeps a dead standby u/s (captures 151, 153).
 */
export function readStandbyReplication(
  state: SimulatedClusterState,
  now: number,
): StandbyReplication {
  const current = advance(state, now);
  assertCoordinatorAnswers(current);
  const standby = standbyOf(current);
  if (!standby || !current.processes[standby.dbid]?.running) return { state: 'absent' };
  const behind = current.standbyBehindBytes;
  const flushed = walLocation(current.coordinatorWalBytes - behind);
  return {
    state: behind > 0 ? 'catchup' : 'streaming',
    syncState: behind > 0 ? 'potential' : 'sync',
    sentLocation: walLocation(current.coordinatorWalBytes),
    flushLocation: flushed,
    replayLocation: flushed,
  };
}

/** pg_isready against `row` (its host, port): no postmaster there, no response. */
function pgIsReadyAt(state: SimulatedClusterState, row: SegmentRow): PostmasterAnswer {
  const inCatalog = state.catalog.find((r) => r.dbid === row.dbid);
  if (!inCatalog || isHostDown(state, row.hostname)) return 'no-response';
  return pgIsReady(state, inCatalog);
}

/** pg_isready on the coordinator and the standby, from the standby's host (captures 116, 121). */
export function probeCoordinator(
  state: SimulatedClusterState,
  now: number,
  coordinator: SegmentRow,
  standby: SegmentRow,
): CoordinatorProbe {
  const current = advance(state, now);
  if (isHostDown(current, standby.hostname))
    throw hostUnreachable(standby.hostname, `the standby dbid ${standby.dbid}`);
  return { coordinator: pgIsReadyAt(current, coordinator), standby: pgIsReadyAt(current, standby) };
}

/** The state at `now` to change: a copy, advanced. */
function draftAt(state: SimulatedClusterState, now: number): SimulatedClusterState {
  const draft = clone(state);
  advanceInPlace(draft, now);
  return draft;
}

const knownHost = (state: SimulatedClusterState, host: string): boolean =>
  host in state.downHosts ||
  state.catalog.some((r) => r.hostname === host) ||
  state.leftDirectories.some((d) => d.hostname === host);

/** Whether `row`'s host answers at all: a host the cluster knows, powered on. */
export function hostAnswers(state: SimulatedClusterState, now: number, row: SegmentRow): boolean {
  const current = draftAt(state, now);
  return knownHost(current, row.hostname) && !isHostDown(current, row.hostname);
}

/**
 * On the old coordinator's host: `pg_ctl stop -m immediate` when its postmaster runs (which
 * removes its own socket files), else the socket files a killed one left (captures 126-127).
 */
export function fence(
  state: SimulatedClusterState,
  now: number,
  coordinator: SegmentRow,
): { state: SimulatedClusterState; handle: { stopped: boolean; removed: string[] } } {
  const host = coordinator.hostname;
  const draft = draftAt(state, now);
  const at = draft.now;
  if (!knownHost(draft, host)) throw new UnknownHost(host);
  if (isHostDown(draft, host))
    throw hostUnreachable(host, `the coordinator dbid ${coordinator.dbid}`);
  const facts = draft.processes[coordinator.dbid];
  if (!facts?.running && !facts?.socketLockLeft)
    return { state: draft, handle: { stopped: false, removed: [] } };
  const stopped = facts.running;
  const removed = stopped
    ? []
    : [`/tmp/.s.PGSQL.${coordinator.port}`, `/tmp/.s.PGSQL.${coordinator.port}.lock`];
  if (stopped) setRunning(draft, indexOf(draft), coordinator.dbid, false, at);
  delete facts.socketLockLeft;
  log(
    draft,
    at,
    stopped
      ? `fence: dbid ${coordinator.dbid} on ${host}: pg_ctl stop -m immediate`
      : `fence: dbid ${coordinator.dbid} on ${host}: removed ${removed.join(' ')}`,
  );
  return { state: draft, handle: { stopped, removed } };
}

/**
 * gpactivatestandby -a -d DIR on the standby's host. It refuses (exit 2) while the old
 * coordinator's socket lock is on its host, live or stale (captures 125, 138); it cannot look
 * when that host does not answer, and goes on. Then the standby is the coordinator: its row
 * content -1 p/p/s/u, the old row gone, no standby (capture 129). What the standby had not
 * received is lost.
 */
export function activate(
  state: SimulatedClusterState,
  now: number,
  standby: SegmentRow,
): SimulatedClusterState {
  const command = `gpactivatestandby -a -d ${standby.datadir}`;
  const draft = draftAt(state, now);
  const at = draft.now;
  if (isHostDown(draft, standby.hostname))
    throw hostUnreachable(standby.hostname, `the standby dbid ${standby.dbid}`);
  const row = draft.catalog.find((r) => r.dbid === standby.dbid);
  if (row?.content !== -1 || row.role !== 'm')
    throw new StandbyCommandFailed(
      `${command}: exit 2: Critical required file on standby "${standby.datadir}/recovery.conf" is not present. (dbid ${standby.dbid} is not the standby: ${row ? 'it is the coordinator already' : 'it is not in gp_segment_configuration'})`,
    );
  if (!draft.processes[row.dbid]!.running)
    throw new StandbyCommandFailed(
      `${command}: exit 2: Standby postmaster is not running. Error activating standby master: postmaster is not running`,
    );
  const old = coordinatorOf(draft);
  const oldProcess = draft.processes[old.dbid]!;
  if (!isHostDown(draft, old.hostname) && (oldProcess.running || oldProcess.socketLockLeft))
    throw new ActiveCoordinatorProcess(
      `${command}: Appears that there is an active postgres process on ${old.hostname} port=${old.port} (exit 2); its socket lock file in /tmp must go, and only once the old coordinator is fenced`,
    );
  draft.coordinatorWalBytes -= draft.standbyBehindBytes;
  draft.standbyBehindBytes = 0;
  draft.catalog = draft.catalog.filter((r) => r.dbid !== old.dbid);
  delete draft.processes[old.dbid];
  draft.leftDirectories.push({ hostname: old.hostname, datadir: old.datadir });
  Object.assign(row, { role: 'p', preferred_role: 'p', mode: 's', status: 'u' });
  log(
    draft,
    at,
    `gpactivatestandby: dbid ${row.dbid} on ${row.hostname}:${row.port} is the coordinator; dbid ${old.dbid} (${old.hostname}:${old.port}) left gp_segment_configuration`,
  );
  assertCatalogValid(draft, `activate(${row.dbid})`);
  return draft;
}

/**
 * gpinitstandby -a -s HOST -P PORT -S DIR on the coordinator: a new standby row, dbid one above
 * the catalog's highest (captures 135, 142), started and in sync. Refused before any change when
 * the data directory exists on that host (capture 134), or the port is taken there.
 */
export function initializeStandby(
  state: SimulatedClusterState,
  now: number,
  coordinator: SegmentRow,
  location: StandbyLocation,
): SimulatedClusterState {
  const where = parseOrThrow(
    segmentLocationSchema,
    // The port's type is structural: a whole row may come; its location is what counts.
    locationOf(location),
    'location',
  );
  const command = `gpinitstandby -a -s ${where.hostname} -P ${where.port} -S ${where.datadir}`;
  const draft = draftAt(state, now);
  const at = draft.now;
  assertCoordinatorAnswers(draft, coordinator);
  const refuse = (why: string) => new StandbyCommandFailed(`${command}: exit 2: ${why}`);
  const standby = standbyOf(draft);
  if (standby)
    throw refuse(
      `Standby master already configured (dbid ${standby.dbid} on ${standby.hostname}); Error initializing standby master: standby master already configured`,
    );
  if (isHostDown(draft, where.hostname))
    throw hostUnreachable(where.hostname, 'the new standby host');
  if (
    draft.leftDirectories.some(
      (d) => d.hostname === where.hostname && d.datadir === where.datadir,
    ) ||
    draft.catalog.some((r) => r.hostname === where.hostname && r.datadir === where.datadir)
  )
    throw refuse(
      `Data directory already exists on host ${where.hostname}; Failed to create standby; Error initializing standby master: master data directory exists`,
    );
  const taken = draft.catalog.find((r) => r.hostname === where.hostname && r.port === where.port);
  if (taken)
    throw refuse(
      `port ${where.port} on ${where.hostname} is in use by dbid ${taken.dbid}; Failed to create standby`,
    );
  const dbid = Math.max(...draft.catalog.map((r) => r.dbid)) + 1;
  draft.catalog.push(standbyRow(dbid, where));
  draft.processes[dbid] = { running: true, dataLost: false, rewindBroken: false };
  draft.standbyBehindBytes = 0;
  log(draft, at, `gpinitstandby: standby dbid ${dbid} on ${where.hostname}:${where.port} created`);
  assertCatalogValid(draft, `initializeStandby(${dbid})`);
  return draft;
}
