import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type {
  RunningGprecoverseg,
  ClusterObservation,
  ClusterOperations,
  CoordinatorOperations,
  OperationHandle,
  ReplicationState,
} from '#cluster/port.ts';
import * as coordinator from '#cluster/simulated/coordinator.ts';
import { assertCoordinatorAnswers } from '#cluster/simulated/coordinator-answers.ts';
import {
  SimulatedClusterBusy,
  SimulatedClusterExists,
  SimulatedClusterNotFound,
} from '#cluster/simulated/errors.ts';
import * as faults from '#cluster/simulated/faults.ts';
import {
  createState,
  runningOperation,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';
import * as operations from '#cluster/simulated/operations.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import * as reads from '#cluster/simulated/reads.ts';
import {
  DEFAULT_CHUNK_BYTES,
  SimulatedStateStore,
  type SimulatedStates,
} from '#cluster/simulated/store.ts';
import { advance, probe } from '#cluster/simulated/timeline.ts';
import type { PlanItem, StandbyReplication } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import type { TableNames } from '#store/tables.ts';

export type SimulatedClusterConfig = {
  clusterId: string;
  /** Clock time in ms; the simulation advances to it on every call. */
  clock: () => number;
} & (
  | {
      doc: DynamoDBDocumentClient;
      tables: TableNames;
      /** Bytes per state item; smaller only to exercise chunking. */
      chunkBytes?: number;
    }
  /** Kept elsewhere than the Control table: tests of the steps, in memory. */
  | { states: SimulatedStates }
);

const WRITE_ATTEMPTS = 30;

/**
 * The simulated cluster behind the ClusterOperations port. Its state lives in the Control
 * table under `sim#<clusterId>`, so Lambda invocations, the local runner and the CLI all act on
 * one cluster. Every change is read, applied purely, and written back conditioned on the
 * version read; a lost race re-reads and re-applies.
 */
export class SimulatedCluster implements ClusterOperations {
  private readonly store: SimulatedStates;

  constructor(private readonly config: SimulatedClusterConfig) {
    this.store =
      'states' in config
        ? config.states
        : new SimulatedStateStore(
            config.doc,
            config.tables.control,
            config.clusterId,
            config.chunkBytes ?? DEFAULT_CHUNK_BYTES,
          );
  }

  /** Brings up a cluster in the given configuration; refuses a topology Greenplum would not show. */
  async create(
    segments: readonly SegmentRow[],
    options: SimulationOptionsInput = {},
  ): Promise<void> {
    const state = createState(segments, options, this.config.clock());
    if (!(await this.store.save(state, undefined)))
      throw new SimulatedClusterExists(this.config.clusterId);
  }

  failHost(host: string): Promise<void> {
    return this.failHosts([host]);
  }

  /** A rack: the hosts go down in one step, as one power failure takes them. */
  failHosts(hosts: readonly string[]): Promise<void> {
    return this.change((state, now) => faults.failHosts(state, now, hosts));
  }

  restoreHost(host: string): Promise<void> {
    return this.change((state, now) => faults.restoreHost(state, now, host));
  }

  crashSegment(dbid: number): Promise<void> {
    return this.change((state, now) => faults.crashSegment(state, now, dbid));
  }

  loseDataDirectory(dbid: number): Promise<void> {
    return this.change((state, now) => faults.loseDataDirectory(state, now, dbid));
  }

  lagStandby(dbid: number, bytes: number): Promise<void> {
    return this.change((state, now) => faults.lagStandby(state, now, dbid, bytes));
  }

  /** The whole simulation as of now: process facts, WAL positions, runs, the FTS log. */
  async readState(): Promise<SimulatedClusterState> {
    return advance(await this.current(), this.config.clock());
  }

  async readConfiguration(): Promise<ClusterObservation> {
    return reads.readConfiguration(await this.current(), this.config.clock());
  }

  async readReplication(): Promise<ReplicationState[]> {
    return reads.readReplication(await this.current(), this.config.clock());
  }

  async readStandbyReplication(): Promise<StandbyReplication> {
    return coordinator.readStandbyReplication(await this.current(), this.config.clock());
  }

  readonly coordinator: CoordinatorOperations = {
    probe: async (coordinatorRow, standby) =>
      coordinator.probeCoordinator(
        await this.current(),
        this.config.clock(),
        coordinatorRow,
        standby,
      ),
    hostAnswers: async (row) =>
      coordinator.hostAnswers(await this.current(), this.config.clock(), row),
    fence: (coordinatorRow) =>
      this.mutate((state, now) => coordinator.fence(state, now, coordinatorRow)),
    activate: (standby) => this.change((state, now) => coordinator.activate(state, now, standby)),
    initializeStandby: (coordinatorRow, location) =>
      this.change((state, now) =>
        coordinator.initializeStandby(state, now, coordinatorRow, location),
      ),
  };

  requestFtsProbe(): Promise<void> {
    return this.change((state, now) => probe(state, now));
  }

  startRecovery(plan: readonly PlanItem[], operationKey: string): Promise<OperationHandle> {
    return this.mutate((state, now) => operations.startRecovery(state, now, plan, operationKey));
  }

  startRebalance(options: { replayLagGb: number }, operationKey: string): Promise<OperationHandle> {
    return this.mutate((state, now) =>
      operations.startRebalance(state, now, options, operationKey),
    );
  }

  async pollOperation(handle: OperationHandle): Promise<operations.SimulatedOperationStatus> {
    return operations.pollOperation(await this.current(), this.config.clock(), handle.operationId);
  }

  /** The simulation's unfinished operation: the simulated gprecoverseg (it has no PID). */
  async runningGprecoverseg(): Promise<RunningGprecoverseg | undefined> {
    const state = await this.readState();
    assertCoordinatorAnswers(state);
    const running = runningOperation(state);
    return running ? { kind: running.kind, operationId: running.operationId } : undefined;
  }

  private async current(): Promise<SimulatedClusterState> {
    const loaded = await this.store.load();
    if (!loaded) throw new SimulatedClusterNotFound(this.config.clusterId);
    return loaded.state;
  }

  private async change(
    step: (state: SimulatedClusterState, now: number) => SimulatedClusterState,
  ): Promise<void> {
    await this.mutate((state, now) => ({ state: step(state, now), handle: undefined }));
  }

  private async mutate<T>(
    step: (
      state: SimulatedClusterState,
      now: number,
    ) => { state: SimulatedClusterState; handle: T },
  ): Promise<T> {
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
      const loaded = await this.store.load();
      if (!loaded) throw new SimulatedClusterNotFound(this.config.clusterId);
      const { state, handle } = step(loaded.state, this.config.clock());
      if (state === loaded.state || (await this.store.save(state, loaded))) return handle;
      // Full jitter: racing writers spread out instead of colliding again in lockstep.
      await sleep(Math.random() * Math.min(250, 10 * 2 ** attempt));
    }
    throw new SimulatedClusterBusy(this.config.clusterId, WRITE_ATTEMPTS);
  }
}
