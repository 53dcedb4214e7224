import { DomainError } from '#domain/errors.ts';
import type { SegmentRow } from '#domain/segment.ts';

/** A fault or request names a host no segment lives on. */
export class UnknownHost extends DomainError {
  override name = 'UnknownHost';
  constructor(readonly host: string) {
    super(
      `host ${host} runs no segment of this cluster: name a host from gp_segment_configuration`,
    );
  }
}

/** A fault or plan names a dbid that is not in gp_segment_configuration. */
export class UnknownSegment extends DomainError {
  override name = 'UnknownSegment';
  constructor(readonly dbids: number[]) {
    super(
      `dbid ${dbids.join(', ')} ${dbids.length === 1 ? 'is' : 'are'} not in gp_segment_configuration: read the configuration and name existing segments`,
    );
  }
}

/** The fault is outside what the simulator models (a coordinator's lost data directory, say). */
export class UnsupportedFault extends DomainError {
  override name = 'UnsupportedFault';
}

/**
 * The coordinator's host answers but its postmaster does not (killed: capture 122, `psql:
 * could not connect to server: Connection refused`). Whatever runs on the coordinator fails so:
 * catalog reads, FTS, gprecoverseg, gpinitstandby. A host that does not answer at all is
 * HostUnreachable instead, as over SSM or ssh.
 */
export class CoordinatorNotAnswering extends DomainError {
  override name = 'CoordinatorNotAnswering';
  constructor(readonly coordinator: Pick<SegmentRow, 'dbid' | 'hostname' | 'port'>) {
    super(
      `the coordinator (dbid ${coordinator.dbid}, ${coordinator.hostname}:${coordinator.port}) does not answer: psql: could not connect to server: Connection refused; ` +
        'its postmaster is not running: fail over to the standby (gpactivatestandby) or start the coordinator again',
    );
  }
}

/** gprecoverseg refuses the plan before changing anything; `problems` names each offending item. */
export class InvalidRecoveryPlan extends DomainError {
  override name = 'InvalidRecoveryPlan';
  constructor(readonly problems: string[]) {
    super(`gprecoverseg refused the plan, nothing was changed: ${problems.join('; ')}`);
  }
}

/** Another gprecoverseg holds `gprecoverseg.lock` in the coordinator data directory. */
export class GprecoversegLocked extends DomainError {
  override name = 'GprecoversegLocked';
  constructor(readonly operationId: string) {
    super(
      `gprecoverseg is already running (operation ${operationId} holds gprecoverseg.lock): poll it until done, then retry`,
    );
  }
}

/**
 * gprecoverseg stopped before changing anything and exited 2 with `[CRITICAL]:-gprecoverseg
 * failed. (Reason=...)`, e.g. because an acting primary does not answer (capture 82).
 */
export class GprecoversegFailed extends DomainError {
  override name = 'GprecoversegFailed';
  constructor(
    readonly operationId: string,
    readonly reason: string,
  ) {
    super(
      `${operationId}: gprecoverseg exited 2 without changing anything: ${reason}; if a content named there has lost its mirror too (a double fault), the way out is gpstop -a -M fast, gpstart -a, gprecoverseg -a, then gprecoverseg -ar`,
    );
  }
}

/** `gprecoverseg -r` refused the whole rebalance: a mirror replays too far behind its primary. */
export class RebalanceReplayLagExceeded extends DomainError {
  override name = 'RebalanceReplayLagExceeded';
  constructor(
    /** The acting primary gprecoverseg names. */
    readonly dbid: number,
    readonly replayLagBytes: number,
  ) {
    super(
      `gprecoverseg -r refused, nothing was stopped: ${replayLagBytes} bytes of WAL still to be replayed on the mirror of the pair with dbid ${dbid}; wait for it to catch up, then rebalance again`,
    );
  }
}

export class UnknownOperation extends DomainError {
  override name = 'UnknownOperation';
  constructor(readonly operationId: string) {
    super(`operation ${operationId} is unknown to this cluster: use the handle its start returned`);
  }
}

export class SimulatedClusterNotFound extends DomainError {
  override name = 'SimulatedClusterNotFound';
  constructor(readonly clusterId: string) {
    super(`simulated cluster ${clusterId} does not exist: create it (register its segments) first`);
  }
}

export class SimulatedClusterExists extends DomainError {
  override name = 'SimulatedClusterExists';
  constructor(readonly clusterId: string) {
    super(`simulated cluster ${clusterId} already exists: choose another cluster id`);
  }
}

/** Writers kept racing for the same simulated cluster; the caller may retry later. */
export class SimulatedClusterBusy extends DomainError {
  override name = 'SimulatedClusterBusy';
  constructor(
    readonly clusterId: string,
    attempts: number,
  ) {
    super(
      `simulated cluster ${clusterId}: state changed under ${attempts} attempts in a row; retry`,
    );
  }
}

/** The persisted state would not fit one DynamoDB transaction even compressed. */
export class SimulatedStateTooLarge extends DomainError {
  override name = 'SimulatedStateTooLarge';
}
