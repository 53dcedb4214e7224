/**
 * Domain errors. Each sets `name` so Step Functions Retry/Catch (which match `error.name`)
 * and callers can tell them apart without parsing messages.
 */
export class DomainError extends Error {
  override name = 'DomainError';
}

/** A topology or request names cluster objects that do not fit together. */
export class InvalidTopology extends DomainError {
  override name = 'InvalidTopology';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** An event that would take the catalog to a state Greenplum never shows. */
export class InvalidTransition extends DomainError {
  override name = 'InvalidTransition';
}

/** Input that does not match a schema; `path` is the dotted path of the first bad field. */
export class ValidationError extends DomainError {
  override name = 'ValidationError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** The cluster has never been registered with recoverseg. */
export class UnknownCluster extends DomainError {
  override name = 'UnknownCluster';
  constructor(readonly clusterId: string) {
    super(`cluster ${clusterId} is not registered; register its gp_segment_configuration first`);
  }
}

/** FTS has not yet failed over a dead primary or marked a dead mirror down: retried with backoff. */
export class PromotionPending extends DomainError {
  override name = 'PromotionPending';
}

/** A content has no live copy (acting primary does not answer, mirror down or not in sync): stop. */
export class DoubleFault extends DomainError {
  override name = 'DoubleFault';
}

/** A planned recovery's source is no longer the content's answering acting primary: never copy from it. */
export class SourceUnavailable extends DomainError {
  override name = 'SourceUnavailable';
}

/** Segments gprecoverseg could not bring back, and the policy allows no further attempt. */
export class IncrementalRecoveryFailed extends DomainError {
  override name = 'IncrementalRecoveryFailed';
}

export class RebalanceFailed extends DomainError {
  override name = 'RebalanceFailed';
}

/** gprecoverseg ran for longer than the run allows. */
export class RecoveryTimeout extends DomainError {
  override name = 'RecoveryTimeout';
}

/** Mirrors did not catch up within the run's sync timeout. */
export class SyncTimeout extends DomainError {
  override name = 'SyncTimeout';
}

/**
 * A step could not read the cluster's answer: retried with a bound (the answer is kept on
 * record each time). Says nothing about the cluster's health, only that recoverseg could not
 * tell it.
 */
export class ClusterUnreadable extends DomainError {
  override name = 'ClusterUnreadable';
}

/** A plan larger than one run can record (MAX_SEGMENTS_PER_PLAN); nothing is written. */
export class PlanTooLarge extends DomainError {
  override name = 'PlanTooLarge';
}
