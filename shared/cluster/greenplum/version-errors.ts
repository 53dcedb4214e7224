import { ClusterError, RebalanceReplayLagExceeded } from './errors.ts';

/** `postgres --gp-version` named a product or release recoverseg does not drive. */
export class UnsupportedGreenplumVersion extends ClusterError {
  override name = 'UnsupportedGreenplumVersion';
  constructor(readonly versionText: string) {
    super(
      `the coordinator runs ${JSON.stringify(versionText.slice(0, 200))}; recoverseg drives Greenplum 6.x, Greenplum 7.x and Cloudberry 2.x only; recover this cluster by hand`,
    );
  }
}

/** A request this cluster's release cannot carry out; refused before anything runs. */
export class NotSupportedByVersion extends ClusterError {
  override name = 'NotSupportedByVersion';
  constructor(
    readonly request: string,
    readonly needs: string,
    readonly version: string,
  ) {
    super(`${request} needs ${needs}; this cluster runs ${version}`);
  }
}

/**
 * Greenplum 6 has no `--replay-lag`: recoverseg measured the lag itself and refuses the whole
 * rebalance, as gprecoverseg 7 does. Same name as gprecoverseg's own refusal, so the workflow
 * treats both alike.
 */
export class ReplayLagOverLimit extends RebalanceReplayLagExceeded {
  constructor(
    /** The acting primary of the pair whose mirror lags (gprecoverseg 7 names the same dbid). */
    dbid: number,
    replayLagBytes: number,
    readonly limitGb: number,
    readonly version: string,
  ) {
    super(dbid, replayLagBytes);
    this.message = `rebalance refused before gprecoverseg -r ran: the mirror of acting primary dbid ${dbid} has ${replayLagBytes} bytes of WAL still to replay, at or over the ${limitGb} GB limit (${version} has no --replay-lag, so recoverseg checks it); wait for it to catch up, then rebalance again`;
  }
}
