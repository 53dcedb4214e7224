/**
 * What can go wrong between the workflow and a real cluster, named so Step Functions Retry/Catch
 * (which match `error.name`) can tell a transient SSM hiccup from a cluster that needs a human.
 * Messages name the cluster object and say what to do next.
 */
export class ClusterError extends Error {
  override name = 'ClusterError';
}

const EXCERPT_LINES = 5;
const EXCERPT_WIDTH = 200;

/** A command printed something its parser does not understand; never guess at cluster state. */
export class MalformedOutput extends ClusterError {
  override name = 'MalformedOutput';
  /** The first lines of the whole output (each cut short), to see what the command printed. */
  readonly firstLines: string[];
  constructor(
    readonly command: string,
    readonly lineNumber: number,
    readonly line: string,
    readonly problem: string,
    output?: string,
  ) {
    const firstLines = (output ?? '')
      .split('\n')
      .slice(0, EXCERPT_LINES)
      .map((text) => text.slice(0, EXCERPT_WIDTH));
    if (firstLines.at(-1) === '') firstLines.pop();
    super(
      `${command}: ${problem} at output line ${lineNumber}: ${JSON.stringify(line.slice(0, EXCERPT_WIDTH))}` +
        (firstLines.length > 0
          ? `; the output began ${firstLines.map((text) => JSON.stringify(text)).join(' | ')}`
          : ''),
    );
    this.firstLines = firstLines;
  }
}

/** `pg_rewind` could not rewind the old primary; only a differential or full recovery can. */
export class IncrementalRecoveryFailed extends ClusterError {
  override name = 'IncrementalRecoveryFailed';
  constructor(
    readonly dbid: number,
    readonly content: number,
    readonly location: string,
    readonly reason: string,
  ) {
    super(
      `dbid ${dbid} (content ${content}, ${location}): incremental recovery failed (${reason}); run a full recovery (-F)`,
    );
  }
}

/** gprecoverseg refused its arguments (exit 2): a bug in how the command was built, not a cluster state. */
export class GprecoversegFlagConflict extends ClusterError {
  override name = 'GprecoversegFlagConflict';
  constructor(readonly detail: string) {
    super(`gprecoverseg refused its arguments: ${detail}; fix the recovery plan or options`);
  }
}

/**
 * Another gprecoverseg holds `gprecoverseg.lock` in the coordinator data directory. gprecoverseg
 * reports this with exit status 0 (real capture 63), and never checks whether the holder lives.
 */
export class GprecoversegLocked extends ClusterError {
  override name = 'GprecoversegLocked';
  constructor(
    readonly holderPid: number | undefined,
    /** The lock directory gprecoverseg names, when it names one. */
    readonly lockDirectory: string | undefined,
  ) {
    const lock = lockDirectory ?? 'gprecoverseg.lock in the coordinator data directory';
    const holder =
      holderPid === undefined ? 'another gprecoverseg' : `gprecoverseg pid ${holderPid}`;
    super(
      `${lock} is held by ${holder}: recoverseg waits while that process lives. ` +
        `Greenplum never checks whether it does: if ${holderPid === undefined ? 'no gprecoverseg runs' : `pid ${holderPid} is dead`} on the coordinator, remove the directory ${lock}, then retry`,
    );
  }
}

/**
 * gprecoverseg.lock exists but no live process holds it (a run was killed): gprecoverseg would
 * refuse on the directory alone. Only a human should decide that no gprecoverseg runs.
 */
export class StaleGprecoversegLock extends ClusterError {
  override name = 'StaleGprecoversegLock';
  constructor(
    readonly holderPid: number | undefined,
    readonly lockDirectory: string,
  ) {
    super(
      `${lockDirectory} names ${holderPid === undefined ? 'no pid' : `gprecoverseg pid ${holderPid}, which is not running`}: ` +
        `gprecoverseg refuses to start while it exists. Check that no gprecoverseg runs on the coordinator (ps -ef | grep gprecoverseg), ` +
        `remove the directory ${lockDirectory}, then start the recovery again`,
    );
  }
}

/** A segment a Greenplum error names, e.g. `(seg3 127.0.0.1:7003)`. */
export interface NamedSegment {
  content: number;
  address: string;
  port: number;
}

/** gprecoverseg failed for a reason it did not attribute to a recovered segment. */
export class GprecoversegFailed extends ClusterError {
  override name = 'GprecoversegFailed';
  constructor(
    readonly exitCode: number,
    /** Greenplum's words, every line of the message kept. */
    readonly detail: string,
    /** Segments the message names as not answering. */
    readonly segments: readonly NamedSegment[] = [],
  ) {
    const unanswered = segments.map(
      (segment) => `content ${segment.content} (${segment.address}:${segment.port})`,
    );
    super(
      `gprecoverseg exited ${exitCode}: ${detail}; ` +
        (unanswered.length > 0
          ? `${unanswered.join(', ')} did not answer: if its mirror is down too, that content has no live copy (a double fault); ` +
            'the way out is gpstop -a -M fast, gpstart -a, gprecoverseg -a, then gprecoverseg -ar'
          : 'read the gprecoverseg log in ~gpadmin/gpAdminLogs'),
    );
  }
}

/** `gprecoverseg -r` refused because a mirror has not replayed enough WAL yet. */
export class RebalanceReplayLagExceeded extends ClusterError {
  override name = 'RebalanceReplayLagExceeded';
  constructor(
    /** The dbid gprecoverseg names in its refusal. */
    readonly dbid: number,
    readonly replayLagBytes: number,
  ) {
    super(
      `gprecoverseg -r refused: ${replayLagBytes} bytes of WAL still to be replayed on the mirror of the pair with dbid ${dbid}; wait for it to catch up, then rebalance again`,
    );
  }
}

/** A host (a segment host, or the coordinator instance for SSM) cannot be reached. */
export class HostUnreachable extends ClusterError {
  override name = 'HostUnreachable';
  constructor(
    readonly hosts: string[],
    detail: string,
  ) {
    super(`${hosts.join(', ')} unreachable: ${detail}`);
  }
}

/** A recovery plan that cannot be expressed as gprecoverseg input for this cluster. */
export class RecoveryPlanRejected extends ClusterError {
  override name = 'RecoveryPlanRejected';
}

/** The Run Command did not finish in time (SSM's TimedOut, or our own wait ran out). */
export class SsmCommandTimedOut extends ClusterError {
  override name = 'SsmCommandTimedOut';
  constructor(
    readonly commandId: string,
    readonly instanceId: string,
    readonly waitedMs: number,
  ) {
    super(
      `SSM command ${commandId} on ${instanceId} did not finish within ${waitedMs} ms; check the SSM agent on the coordinator, then retry`,
    );
  }
}

/** SSM throttled the call; retry with backoff. */
export class SsmThrottled extends ClusterError {
  override name = 'SsmThrottled';
  constructor(readonly operation: string) {
    super(`SSM throttled ${operation}; retry with backoff`);
  }
}

/** The script ran and failed (non-zero exit, cancelled, or undeliverable). */
export class SsmCommandFailed extends ClusterError {
  override name = 'SsmCommandFailed';
  constructor(
    readonly commandId: string | undefined,
    readonly instanceId: string,
    readonly status: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(
      `SSM command ${commandId ?? '(not sent)'} on ${instanceId} ended ${status}` +
        `${exitCode === undefined ? '' : ` with exit code ${exitCode}`}` +
        `${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
    );
  }
}

/** SSM keeps only the first 24,000 characters of output; a cut-off answer is not an answer. */
export class SsmOutputTruncated extends ClusterError {
  override name = 'SsmOutputTruncated';
  constructor(
    readonly commandId: string,
    readonly command: string,
  ) {
    super(
      `${command}: SSM command ${commandId} output was cut off at the SSM output limit and no output bucket is configured; set RUN_COMMAND_OUTPUT_BUCKET to the stack's Run Command output bucket so a large answer is read from S3`,
    );
  }
}

/** The answer was too long to read inline, and the copy SSM should have written to S3 is not there. */
export class SsmOutputMissing extends ClusterError {
  override name = 'SsmOutputMissing';
  constructor(
    readonly commandId: string,
    readonly instanceId: string,
    readonly location: string,
  ) {
    super(
      `SSM command ${commandId} on ${instanceId} succeeded but its output is not at ${location}; the coordinator instance's role needs the stack's Run Command output policy (s3:PutObject under the prefix, kms:GenerateDataKey on the bucket's key), then retry`,
    );
  }
}

/** An answer larger than any cluster's: not read, whoever wrote it. */
export class SsmOutputTooLarge extends ClusterError {
  override name = 'SsmOutputTooLarge';
  constructor(
    readonly commandId: string,
    readonly location: string,
    /** As many as were seen before reading stopped. */
    readonly bytes: number,
    readonly limitBytes: number,
  ) {
    super(
      `SSM command ${commandId}: the output at ${location} is over the ${limitBytes} bytes recoverseg reads (${bytes} seen); no recoverseg script prints that much, check what wrote it`,
    );
  }
}

/** A script that does not fit SendCommand even compressed; nothing was sent. */
export class SsmScriptTooLarge extends ClusterError {
  override name = 'SsmScriptTooLarge';
  constructor(
    readonly what: string,
    readonly chars: number,
    readonly limitChars: number,
  ) {
    super(
      `${what}: the script is ${chars} characters compressed, over the ${limitChars} one SendCommand carries; nothing was sent, split the operation`,
    );
  }
}

/** Poll asked about an operation the coordinator has no record of. */
export class OperationNotFound extends ClusterError {
  override name = 'OperationNotFound';
  constructor(readonly operationId: string) {
    super(`${operationId}: the coordinator has no record of this operation; start it again`);
  }
}
