import type { PlanItem, RecoveryType, StandbyReplication } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import type { DoubleFault, NotReady } from '#domain/observation.ts';
import type { CoordinatorProbe } from '#domain/coordinator.ts';
import type { Fault } from '#domain/requests.ts';

export type { DoubleFault, NotReady, NotReadyAnswer } from '#domain/observation.ts';

/**
 * All the workflow knows about a cluster. Long operations are start-then-poll: a full
 * recovery can run for hours, a Lambda for 15 minutes.
 */
export interface ClusterOperations {
  /**
   * gp_segment_configuration now, and which acting primaries answer a connection: the only
   * way to see a double fault (see `observedDoubleFaults`).
   */
  readConfiguration(): Promise<ClusterObservation>;
  /** gp_stat_replication per content with a mirror. */
  readReplication(): Promise<ReplicationState[]>;
  /** `SELECT gp_request_fts_probe_scan()`: FTS probes now instead of within 60 s. */
  requestFtsProbe(): Promise<void>;
  /** `gprecoverseg -a` for the plan. `operationKey` makes a retried start find the first one. */
  startRecovery(plan: readonly PlanItem[], operationKey: string): Promise<OperationHandle>;
  /** `gprecoverseg -ar --replay-lag N`. */
  startRebalance(options: { replayLagGb: number }, operationKey: string): Promise<OperationHandle>;
  pollOperation(handle: OperationHandle): Promise<OperationStatus>;
  /**
   * The gprecoverseg running on the coordinator now, if any (what an operator cancelling a run
   * must know: recoverseg never kills it). Optional: adapters that cannot tell leave it out.
   */
  runningGprecoverseg?(): Promise<RunningGprecoverseg | undefined>;
  /**
   * The standby's walsender in pg_stat_replication on the coordinator (`absent`: none, the only
   * sign of a dead standby: captures 151-153). Optional: adapters without a standby leave it out.
   */
  readStandbyReplication?(): Promise<StandbyReplication>;
  /**
   * What the coordinator failover runs on the coordinator's and the standby's hosts. Optional:
   * an adapter that cannot reach those hosts leaves it out, and a lost coordinator is then
   * only notified.
   */
  coordinator?: CoordinatorOperations;
}

/**
 * pg_isready's answer (captures 116, 121): exit 0 accepting, 1 rejecting, 2 no response, 3 no
 * attempt, and Greenplum's 64 `mirror ready`, which is what a live standby in recovery says.
 */
export type { CoordinatorProbe, PostmasterAnswer } from '#domain/coordinator.ts';

/** Where a standby is to be created (`gpinitstandby -s HOST -P PORT -S DIR`). */
export type StandbyLocation = Pick<SegmentRow, 'hostname' | 'address' | 'port' | 'datadir'>;

/**
 * The coordinator's failover, host by host. Every method names the catalog row it acts on, so
 * the adapter reaches that row's host (the same shell, ssh to the host, or the SSM instance of
 * that host), port and data directory, whichever host the coordinator has moved to.
 */
export interface CoordinatorOperations {
  /**
   * pg_isready on the coordinator and on the standby, run on the standby's host: the host that
   * would take over is the one whose view counts. Throws HostUnreachable when the standby's
   * host does not answer.
   */
  probe(coordinator: SegmentRow, standby: SegmentRow): Promise<CoordinatorProbe>;
  /**
   * On the old coordinator's host: `pg_ctl stop -m immediate` when its postmaster runs, then
   * the socket lock files a killed postmaster leaves (capture 126), which gpactivatestandby
   * refuses to pass (capture 125). Throws HostUnreachable when that host does not answer:
   * there is then no fence over the transport.
   */
  fence(coordinator: SegmentRow): Promise<{ stopped: boolean; removed: string[] }>;
  /**
   * Whether the row's host runs a script over the transport at all (`true`): false when it
   * does not answer (HostUnreachable, a timeout), which is what FENCE_RULES ask.
   */
  hostAnswers(row: SegmentRow): Promise<boolean>;
  /**
   * `gpactivatestandby -a -d DIR` on the standby's host (capture 128). Throws
   * ActiveCoordinatorProcess when it refuses on a live or stale coordinator (125).
   */
  activate(standby: SegmentRow): Promise<void>;
  /** `gpinitstandby -a -s HOST -P PORT -S DIR` on the coordinator (captures 111, 134, 157). */
  initializeStandby(coordinator: SegmentRow, location: StandbyLocation): Promise<void>;
}

export interface RunningGprecoverseg {
  kind: 'recovery' | 'rebalance';
  /** Its process id on the coordinator, when the adapter knows one. */
  pid?: number;
  operationId?: string;
}

export interface ClusterObservation {
  segments: SegmentRow[];
  /** Acting primaries (dbids, content >= 0) that did not answer a connection when read. */
  unresponsive: number[];
  /**
   * Acting primaries that are alive but not ready as primaries yet (a promotion or a start
   * under way): never a double fault, never a source to copy from; the run waits for them.
   */
  notReady: NotReady[];
  /** `observedDoubleFaults(segments, unresponsive)`: contents with no live copy. */
  doubleFaults: DoubleFault[];
}

export type WalSenderState = 'startup' | 'backup' | 'catchup' | 'streaming';

export interface ReplicationState {
  content: number;
  /** The acting primary whose walsender this is. */
  primaryDbid: number;
  /** Absent when the mirror has no replication connection (gpstate shows `Unknown`). */
  state: WalSenderState | undefined;
  syncState: string | undefined;
  syncError: 'none' | 'walread' | undefined;
  /** `pg_wal_lsn_diff(flush, sent)`; undefined when unknown. */
  walRemainingBytes: number | undefined;
  /** Bytes the mirror has received but not replayed (the `--replay-lag` measure). */
  replayLagBytes: number | undefined;
}

export interface OperationHandle {
  operationId: string;
  kind: 'recovery' | 'rebalance';
}

export interface SegmentProgress {
  dbid: number;
  type: RecoveryType;
  completedKb: number;
  totalKb: number;
  percent: number;
}

export interface SegmentFailure {
  dbid: number;
  type: RecoveryType;
  /** Greenplum's own words, e.g. `pg_rewind: fatal: could not find previous WAL record`. */
  reason: string;
  /** True when only a differential or full recovery can still bring it back. */
  needsFull: boolean;
}

export interface OperationStatus {
  operationId: string;
  kind: 'recovery' | 'rebalance';
  done: boolean;
  progress: SegmentProgress[];
  /** Segments this operation brought up (and, for a relocation, where they now live). */
  recovered: number[];
  failures: SegmentFailure[];
  /** Pairs a rebalance left alone, with gprecoverseg's reason. */
  skipped: { content: number; reason: string }[];
  /** gprecoverseg's closing lines, e.g. `Segments successfully recovered.` */
  messages?: string[];
}

/** What a simulated backend adds: creating the simulation and breaking it on purpose. */
export interface Simulator {
  /** Throws a ValidationError naming the field when the simulation options are wrong. */
  validate(simulation: unknown): void;
  create(clusterId: string, segments: SegmentRow[], simulation: unknown): Promise<void>;
  inject(clusterId: string, fault: Fault): Promise<void>;
}

/** Stops a host's EC2 instance: the fence where recoverseg runs on AWS. */
export interface InstanceFence {
  /** The instance of a host, from the stack's settings; undefined when it is not one of them. */
  instanceOf(hostname: string): string | undefined;
  /** StopInstances with Force on that one instance. */
  stop(instanceId: string): Promise<void>;
  /** Its state's name: pending, running, stopping, stopped, shutting-down, terminated. */
  state(instanceId: string): Promise<string>;
}

/** Moves clients to the new coordinator. */
export interface ClientEndpoint {
  how: 'route53' | 'hook';
  /** What goes on record: the record's name, or the hook's command. */
  endpoint: string;
  move(to: SegmentRow): Promise<void>;
}
