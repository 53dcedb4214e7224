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
