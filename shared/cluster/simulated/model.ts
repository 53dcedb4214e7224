import { InvalidTopology, InvalidTransition, ValidationError } from '#domain/errors.ts';
import type * as z from '#domain/zod.ts';
import type { RecoveryType } from '#domain/events.ts';
import { configurationProblems } from '#domain/invariants.ts';
import {
  pairsOf,
  segmentRowSchema,
  type Pair,
  type SegmentLocation,
  type SegmentRow,
} from '#domain/segment.ts';
import {
  simulationOptionsSchema,
  type SimulationOptions,
  type SimulationOptionsInput,
} from '#cluster/simulated/options.ts';

/**
 * The simulated cluster, as plain JSON so it can be persisted and replayed. `catalog` is
 * gp_segment_configuration as Greenplum shows it; everything else is what really runs, which
 * the catalog only learns through FTS.
 */
export interface SimulatedClusterState {
  options: SimulationOptions;
  /** Clock time (ms) the state was last advanced to. */
  now: number;
  /** mulberry32 state. */
  rng: number;
  catalog: SegmentRow[];
  /** Process facts per dbid (keys are dbids). */
  processes: Record<string, SegmentProcess>;
  /** Powered-off hosts and the clock time each comes back (`null`: only when restored). */
  downHosts: Record<string, number | null>;
  /** WAL position of each content's mirror (keys are contents). */
  wal: Record<string, WalPosition>;
  /** The coordinator's WAL location, in bytes (capture 114 shows `0/C000000`). */
  coordinatorWalBytes: number;
  /**
   * How far the standby's flush and replay are behind `coordinatorWalBytes`: a standby-lag fault
   * leaves it unable to keep up (pg_stat_replication shows it catching up) until it is
   * activated or replaced, whatever the time scale.
   */
  standbyBehindBytes: number;
  /**
   * Data directories left on hosts by rows gone from the catalog (an activated standby's old
   * coordinator): gpinitstandby refuses to create a standby over one (capture 134).
   */
  leftDirectories: { hostname: string; datadir: string }[];
  /**
   * Clock time FTS first found each mirror (keys are dbids) unreachable while the catalog
   * still showed it up: it is marked down once the mirror-down grace period has passed.
   */
  unreachableMirrors: Record<string, number>;
  /**
   * Promotions under way (keys are dbids): the clock time each ends. FTS has already marked the
   * segment acting primary; until then it still answers as a mirror (capture 103).
   */
  promotions: Record<string, number>;
  /** Running and recent gprecoverseg runs, oldest first. */
  operations: SimulatedOperation[];
  operationCount: number;
  /** The newest FTS and gprecoverseg log lines, oldest first. */
  log: LogLine[];
}

export interface SegmentProcess {
  /** The postmaster runs. */
  running: boolean;
  /** The data directory is gone: only a full recovery rebuilds it. */
  dataLost: boolean;
  /** `pg_rewind` cannot work on it (WAL recycled or no data directory) until a copy rebuilds it. */
  rewindBroken: boolean;
  /**
   * A coordinator's postmaster died without cleaning up: `/tmp/.s.PGSQL.<port>` and its `.lock`
   * stay on its host (capture 126), and gpactivatestandby takes them for a live coordinator (125).
   */
  socketLockLeft?: boolean;
}

/** The mirror was `behindBytes` behind at `since`; it closes the gap while it streams. */
export interface WalPosition {
  behindBytes: number;
  since: number;
}

export interface LogLine {
  at: number;
  message: string;
}

export type OperationKind = 'recovery' | 'rebalance';

export interface OperationItem {
  dbid: number;
  content: number;
  sourceDbid: number;
  type: RecoveryType;
  totalKb: number;
  startedAt: number;
  /** When the copy finishes if nothing interrupts it. */
  completeAt: number;
  outcome: 'copying' | 'recovered' | 'failed';
  resolvedAt?: number;
  completedKb?: number;
  failure?: { reason: string; needsFull: boolean };
  /** Where a relocated segment lived; a failed full recovery puts the row back there. */
  backout?: SegmentLocation;
}

export interface SimulatedOperation {
  operationId: string;
  operationKey: string;
  kind: OperationKind;
  startedAt: number;
  finishedAt?: number;
  items: OperationItem[];
  skipped: { content: number; reason: string }[];
  /** gprecoverseg's closing lines. */
  messages: string[];
  /**
   * gprecoverseg exited 2 (`[CRITICAL]`) without copying anything: before changing anything,
   * or, for `gprecoverseg -r` whose promotions never ended, with the primaries it stopped.
   */
  refusal?: Refusal;
  /**
   * gprecoverseg has not begun to copy: an acting primary does not accept connections yet (a
   * promotion under way), and it tries again (see gprecoverseg.ts). Gone once it goes on.
   */
  waiting?: Waiting;
  /** Clock time it stopped waiting (went on, or refused). */
  waitedUntil?: number;
}

/** A segment gprecoverseg is to recover once it goes on. */
export interface RequestedItem {
  dbid: number;
  sourceDbid: number;
  type: RecoveryType;
  target?: SegmentLocation;
}

export interface Waiting {
  /**
   * `gang`: gprecoverseg's first statement, whose gang the coordinator builds again while a
   * segment answers "in recovery mode"; `promotion`: `gprecoverseg -r` after FTS promoted the
   * preferred primaries, trying a distributed statement until they all accept it.
   */
  for: 'gang' | 'promotion';
  since: number;
  /** Clock time of the next attempt. */
  next: number;
  /** Attempts made so far. */
  attempts: number;
  /** What gprecoverseg does once the statement runs. */
  then: Continuation;
}

export type Continuation =
  | { kind: 'recover'; items: RequestedItem[] }
  | { kind: 'rebalance'; replayLagGb: number }
  /** A rebalance's nested `gprecoverseg -a`: it finds its segments then. */
  | { kind: 'nested-recovery' };

export interface Refusal {
  /** Its `[CRITICAL]` reason. */
  reason: string;
  /** A rebalance refused for replay lag: the acting primary gprecoverseg names, and the lag. */
  replayLag?: { dbid: number; bytes: number };
}

const LOG_LINES_KEPT = 1000;
/** Where the coordinator's WAL stood in capture 114 (`0/C000000`). */
export const INITIAL_COORDINATOR_WAL_BYTES = 0xc000000;
const FINISHED_OPERATIONS_KEPT = 50;

/**
 * A simulated cluster as it runs before any fault: every row's status is what its process does,
 * in-sync pairs have no WAL to catch up, resynchronizing ones start `walBytesBehind` behind.
 */
export function createState(
  segments: readonly SegmentRow[],
  options: SimulationOptionsInput = {},
  now = 0,
): SimulatedClusterState {
  const parsedOptions = parseOrExplain(simulationOptionsSchema, options, 'simulation');
  const catalog = segments.map((row, i) => parseOrExplain(segmentRowSchema, row, `segments.${i}`));
  const problems = configurationProblems(catalog);
  if (problems.length > 0) throw new InvalidTopology(problems);
  const rewindBroken = new Set(parsedOptions.incrementalFailsFor);
  const processes: Record<string, SegmentProcess> = {};
  for (const row of catalog)
    processes[row.dbid] = {
      running: row.status === 'u',
      dataLost: false,
      rewindBroken: rewindBroken.has(row.dbid),
    };
  const wal: Record<string, WalPosition> = {};
  for (const pair of pairsOf(catalog))
    if (pair.mirror)
      wal[pair.content] = {
        behindBytes: pair.primary.mode === 's' ? 0 : parsedOptions.walBytesBehind,
        since: now,
      };
  return {
    options: parsedOptions,
    now,
    rng: parsedOptions.seed >>> 0,
    catalog,
    processes,
    downHosts: {},
    wal,
    coordinatorWalBytes: INITIAL_COORDINATOR_WAL_BYTES,
    standbyBehindBytes: 0,
    leftDirectories: [],
    unreachableMirrors: {},
    promotions: {},
    operations: [],
    operationCount: 0,
    log: [],
  };
}

function parseOrExplain<S extends z.ZodMiniType>(
  schema: S,
  value: unknown,
  at: string,
): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = [at, ...(issue?.path ?? []).map(String)].join('.');
  throw new ValidationError(`${path}: ${issue?.message ?? 'invalid'}`, path);
}

export const clone = (state: SimulatedClusterState): SimulatedClusterState =>
  structuredClone(state);

/** Lookups over one state; rows are the state's own objects, so changing them changes the state. */
export interface Index {
  byDbid: Map<number, SegmentRow>;
  pairs: Pair[];
  pairByContent: Map<number, Pair>;
}

export function indexOf(state: SimulatedClusterState): Index {
  const byDbid = new Map(state.catalog.map((row) => [row.dbid, row]));
  const pairs = pairsOf(state.catalog);
  return { byDbid, pairs, pairByContent: new Map(pairs.map((p) => [p.content, p])) };
}

export function processOf(state: SimulatedClusterState, dbid: number): SegmentProcess {
  const process = state.processes[dbid];
  if (!process) throw new InvalidTransition(`dbid ${dbid} has no process facts`);
  return process;
}

export const isHostDown = (state: SimulatedClusterState, host: string): boolean =>
  host in state.downHosts;

/** Clock milliseconds a process of `simSeconds` simulated seconds takes. */
export function durationMs(state: SimulatedClusterState, simSeconds: number): number {
  const scale = state.options.timeScale;
  return scale === 0 ? 0 : Math.ceil((simSeconds * 1000) / scale);
}

/** How much of a `rate`-per-second process is done after `ms` clock milliseconds. */
export function amountDone(state: SimulatedClusterState, rate: number, ms: number): number {
  const scale = state.options.timeScale;
  return scale === 0 ? Infinity : Math.floor((rate * Math.max(0, ms) * scale) / 1000);
}

export const isPromoting = (state: SimulatedClusterState, dbid: number): boolean =>
  dbid in state.promotions;

/**
 * The acting primary's walsender streams to the mirror: both postmasters run, and the primary
 * has finished its promotion (a mirror being promoted has no walsender yet).
 */
export function isReplicating(state: SimulatedClusterState, pair: Pair): boolean {
  return (
    pair.mirror !== undefined &&
    processOf(state, pair.primary.dbid).running &&
    processOf(state, pair.mirror.dbid).running &&
    !isPromoting(state, pair.primary.dbid)
  );
}

/**
 * What `pg_isready` against a segment answers (captures 102, 103): `accepting` (exit 0) from a
 * primary done with its promotion, `mirror-ready` (exit 64, PQPING_MIRROR_READY) from a mirror
 * and from a mirror FTS marked acting primary until its promotion ends, `no-response` (exit 2)
 * when no postmaster runs, whatever the catalog says. A segment starting up (exit 1) is not
 * simulated: gprecoverseg starts a recovered mirror in one step.
 */
export type PgIsReadyAnswer = 'accepting' | 'mirror-ready' | 'no-response';

export function pgIsReady(state: SimulatedClusterState, row: SegmentRow): PgIsReadyAnswer {
  if (!processOf(state, row.dbid).running) return 'no-response';
  return row.role === 'm' || isPromoting(state, row.dbid) ? 'mirror-ready' : 'accepting';
}

const actingPrimariesAnswering = (state: SimulatedClusterState, answer: PgIsReadyAnswer) =>
  state.catalog
    .filter((row) => row.content >= 0 && row.role === 'p' && pgIsReady(state, row) === answer)
    .map((row) => row.dbid)
    .sort((a, b) => a - b);

/**
 * Acting primaries (content >= 0) whose postmaster does not run: what a connection from the
 * coordinator finds (pg_isready "no response", capture 102), whatever the catalog says.
 */
export const unresponsivePrimaries = (state: SimulatedClusterState): number[] =>
  actingPrimariesAnswering(state, 'no-response');

/** Acting primaries still finishing their promotion: alive, answering "mirror ready" (capture 103). */
export const promotingPrimaries = (state: SimulatedClusterState): number[] =>
  actingPrimariesAnswering(state, 'mirror-ready');

/**
 * FTS has marked the mirror acting primary: it finishes its promotion `promotionSeconds` later.
 * A mirror that does not run (FTS takes the catalog's word, capture 80c) promotes nothing.
 */
export function startPromotion(state: SimulatedClusterState, dbid: number, at: number): void {
  const ms = durationMs(state, state.options.promotionSeconds);
  if (ms > 0 && processOf(state, dbid).running) state.promotions[dbid] = at + ms;
}

/** Bytes of WAL the content's mirror still lacks at clock time `at`. */
export function walBehind(state: SimulatedClusterState, pair: Pair, at: number): number {
  const position = state.wal[pair.content] ?? { behindBytes: 0, since: at };
  if (!isReplicating(state, pair)) return position.behindBytes;
  const caughtUp = amountDone(state, state.options.syncBytesPerSecond, at - position.since);
  return Math.max(0, position.behindBytes - caughtUp);
}

/**
 * Pins the content's WAL position at `at`. Called before anything that starts or stops
 * replication, so catch-up is computed over the intervals in which it really streamed.
 */
export function pinWal(state: SimulatedClusterState, pair: Pair, at: number): void {
  if (!pair.mirror) return;
  state.wal[pair.content] = { behindBytes: walBehind(state, pair, at), since: at };
}

/** The coordinator (content -1, role p): a valid catalog has exactly one. */
export function coordinatorOf(state: SimulatedClusterState): SegmentRow {
  const row = state.catalog.find((r) => r.content === -1 && r.role === 'p');
  if (!row) throw new InvalidTransition('the catalog has no coordinator (content -1, role p)');
  return row;
}

export const standbyOf = (state: SimulatedClusterState): SegmentRow | undefined =>
  state.catalog.find((r) => r.content === -1 && r.role === 'm');

/** Starts or stops one postmaster, keeping its content's WAL position right. */
export function setRunning(
  state: SimulatedClusterState,
  index: Index,
  dbid: number,
  running: boolean,
  at: number,
): void {
  const row = index.byDbid.get(dbid);
  const pair = row && index.pairByContent.get(row.content);
  if (pair) pinWal(state, pair, at);
  processOf(state, dbid).running = running;
  // A promotion dies with its postmaster; nothing restarts one.
  if (!running) delete state.promotions[dbid];
}

export function log(state: SimulatedClusterState, at: number, message: string): void {
  state.log.push({ at, message });
  if (state.log.length > LOG_LINES_KEPT) state.log.splice(0, state.log.length - LOG_LINES_KEPT);
}

export function runningOperation(state: SimulatedClusterState): SimulatedOperation | undefined {
  return state.operations.find((op) => op.finishedAt === undefined);
}

/** Keeps the newest finished runs: enough for retried starts and polls to find theirs. */
export function forgetOldOperations(state: SimulatedClusterState): void {
  const finished = state.operations.filter((op) => op.finishedAt !== undefined);
  const excess = finished.length - FINISHED_OPERATIONS_KEPT;
  if (excess <= 0) return;
  const forget = new Set(finished.slice(0, excess));
  state.operations = state.operations.filter((op) => !forget.has(op));
}

/** kB an unfinished copy has transferred by `at`. */
export function copiedKb(item: OperationItem, at: number): number {
  if (item.outcome !== 'copying') return item.completedKb ?? 0;
  const total = item.completeAt - item.startedAt;
  if (total <= 0 || at >= item.completeAt) return item.totalKb;
  return Math.floor((item.totalKb * Math.max(0, at - item.startedAt)) / total);
}

/**
 * The catalog must only ever show what Greenplum shows; a step that breaks this is a bug in
 * the simulator, reported rather than persisted.
 */
export function assertCatalogValid(state: SimulatedClusterState, step: string): void {
  const problems = configurationProblems(state.catalog);
  if (problems.length > 0)
    throw new InvalidTransition(
      `simulator step ${step} left an invalid catalog: ${problems.join('; ')}`,
    );
}
