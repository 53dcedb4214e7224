/** Someone appended to the stream first: re-read the log, re-decide, append again. */
export class ConcurrencyError extends Error {
  override name = 'ConcurrencyError';
  constructor(
    readonly clusterId: string,
    readonly expectedSeq: number,
    detail: string,
  ) {
    super(
      `cluster ${clusterId}: append expected last seq ${expectedSeq}, but ${detail}; re-read the log and decide again`,
    );
  }
}

/** An append that cannot be written as asked (too large, wrong shape); nothing was written. */
export class AppendRejected extends Error {
  override name = 'AppendRejected';
}

/** Another recovery holds the cluster: the caller waits (Retry) or gives up. */
export class ClusterLocked extends Error {
  override name = 'ClusterLocked';
  constructor(
    readonly clusterId: string,
    readonly holder: string,
    readonly expiresAt: number,
  ) {
    super(
      `cluster ${clusterId} is being recovered by ${holder} (lock until ${new Date(expiresAt * 1000).toISOString()}); one recovery at a time: wait for it to finish`,
    );
  }
}

/**
 * DynamoDB left some writes of a batch unprocessed (throttled) through every retry. What waits
 * on them (a rebuild's summary) was not written.
 */
export class WritesUnprocessed extends Error {
  override name = 'WritesUnprocessed';
  constructor(
    readonly clusterId: string,
    readonly table: string,
    readonly unprocessed: number,
    attempts: number,
  ) {
    super(
      `cluster ${clusterId}: ${unprocessed} writes to ${table} were still unprocessed after ${attempts} BatchWriteItem attempts (throttled); what waits on them was not written: retry when the table's capacity allows`,
    );
  }
}
