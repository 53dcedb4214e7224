import type { ClusterState } from '#domain/evolve.ts';
import type { Causation, NewEvent, RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import type { StandbyConfirmation } from '#domain/coordinator.ts';

/**
 * The store port: what the steps, the control actions and the API need from storage. DynamoDB
 * implements it in production and on `serve` (stores.ts); memory.ts implements it in one
 * process for tests that are about decisions, not about DynamoDB. Both pass the same contract
 * (test/store-contract.ts), so what holds in memory holds on DynamoDB.
 */

export interface AppendOptions {
  /** The last seq the caller decided on; anything else is a lost race. */
  expectedSeq: number;
  /** The same key appended twice writes once and returns the first append's seqs. */
  idempotencyKey: string;
  causation?: Causation;
  /** When the facts happened; the store has no opinion on time. */
  at: string;
  /** The state at `expectedSeq`: when given, the events are folded onto it first, so an event Greenplum could not produce is refused before anything is written. */
  state?: ClusterState;
}

export interface AppendResult {
  firstSeq: number;
  lastSeq: number;
  duplicate: boolean;
}

export interface SeqRange {
  afterSeq?: number;
  toSeq?: number;
}

/** One stream per cluster, seq 1, 2, 3 … without gaps, appended with optimistic concurrency. */
export interface EventStorePort {
  /**
   * Appends all of `events` after `expectedSeq` or nothing: ConcurrencyError when the log has
   * moved on, AppendRejected or ValidationError when the events cannot be written as asked.
   */
  append(
    clusterId: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult>;
  /** The last committed seq (0 for a stream never appended to). */
  readHead(clusterId: string): Promise<{ lastSeq: number }>;
  /** Committed events with `afterSeq < seq <= toSeq`, in order, page by page. */
  readPages(clusterId: string, range?: SeqRange): AsyncIterable<RecordedEvent[]>;
  read(clusterId: string, range?: SeqRange): Promise<RecordedEvent[]>;
  /** The fold of the log up to the head (or `toSeq`). */
  loadState(clusterId: string, options?: { toSeq?: number }): Promise<ClusterState>;
  /**
   * Every cluster with a committed event, sorted: the log knows them all, where the projection
   * may lag behind it.
   */
  clusterIds(): Promise<string[]>;
}

/** What the Configuration table holds for one cluster: the rows and the summary item. */
export interface ProjectedConfiguration {
  state: ClusterState;
  rows: SegmentRow[];
}

/** A registered cluster as the cluster list shows it: its projected summary. */
export interface ClusterSummary {
  clusterId: string;
  seq: number;
  recovery: { incidentId: string } | undefined;
  lastIncident: { incidentId: string; status: string } | undefined;
  doubleFaults: number[];
}

/** The read side: gp_segment_configuration per cluster, written monotonically in seq. */
export interface ProjectionStorePort {
  read(clusterId: string): Promise<ProjectedConfiguration>;
  /**
   * Writes `next` over `previous`; rows never move backwards in seq. Returns false when
   * another projector got there first.
   */
  write(clusterId: string, previous: ClusterState, next: ClusterState): Promise<boolean>;
  /**
   * Replaces the cluster's projection with `state` whole (a rebuild): rows the state lacks are
   * deleted, and the summary is written last, so that no reader sees a summary newer than its rows.
   */
  replace(clusterId: string, state: ClusterState): Promise<void>;
  /** Every cluster with a projected summary, in no particular order. */
  list(): Promise<ClusterSummary[]>;
}

export interface LockInfo {
  holder: string;
  incidentId: string;
  acquiredAt: number;
  expiresAt: number;
}

/** One recovery per cluster; the expiry (epoch seconds) frees a cluster a crashed run held. */
export interface ClusterLockPort {
  /** Takes the lock, or renews it for the same holder; throws ClusterLocked otherwise. */
  acquire(
    clusterId: string,
    holder: string,
    incidentId: string,
    nowSeconds: number,
    ttlSeconds: number,
  ): Promise<LockInfo>;
  /** Releases the lock if `holder` still has it; releasing twice is harmless. */
  release(clusterId: string, holder: string): Promise<boolean>;
  read(clusterId: string): Promise<LockInfo | undefined>;
}

export interface ProjectionResult {
  clusterId: string;
  fromSeq: number;
  toSeq: number;
  /** True when the delivered events did not follow the projection and the log filled the gap. */
  readFromLog: boolean;
}

export interface ProjectorPort {
  project(clusterId: string, delivered?: readonly RecordedEvent[]): Promise<ProjectionResult>;
  rebuild(clusterId: string): Promise<ClusterState>;
}

/**
 * When a look last found the standby coordinator as the log's last observation says (streaming
 * in sync). Not an event: a healthy standby is confirmed at every look, and the log hears only
 * of changes (STANDBY_OBSERVATION_RULES). A failover run copies it into its start event.
 */
export interface StandbyConfirmationPort {
  /** Keeps `confirmation` unless a later one is kept already. */
  confirm(clusterId: string, confirmation: StandbyConfirmation): Promise<void>;
  read(clusterId: string): Promise<StandbyConfirmation | undefined>;
}

export interface StorePorts {
  events: EventStorePort;
  projection: ProjectionStorePort;
  projector: ProjectorPort;
  lock: ClusterLockPort;
  standby: StandbyConfirmationPort;
}
