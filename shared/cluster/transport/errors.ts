import { ClusterError } from '#cluster/greenplum/errors.ts';

/** A coordinator script ended with a non-zero exit status (psql failed, a tool is missing …). */
export class CoordinatorScriptFailed extends ClusterError {
  override name = 'CoordinatorScriptFailed';
  constructor(
    readonly what: string,
    readonly coordinator: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    super(
      `${what} on ${coordinator} exited ${exitCode}${tail ? `: ${tail}` : ''}; check the coordinator, then retry`,
    );
  }
}

/** A coordinator script did not finish in time; it was killed. */
export class CoordinatorScriptTimedOut extends ClusterError {
  override name = 'CoordinatorScriptTimedOut';
  constructor(
    readonly what: string,
    readonly coordinator: string,
    readonly waitedMs: number,
  ) {
    super(
      `${what} on ${coordinator} did not finish within ${waitedMs} ms; check that the coordinator answers, then retry`,
    );
  }
}

/** `--transport local` runs the tools as the current user, who must be the Greenplum admin user. */
export class NotAdminUser extends ClusterError {
  override name = 'NotAdminUser';
  constructor(
    readonly currentUser: string,
    readonly adminUser: string,
  ) {
    super(
      `recoverseg runs as ${currentUser}, but the cluster's tools must run as its admin user ${adminUser}; start recoverseg as ${adminUser} (for example: sudo -iu ${adminUser}) or set the admin user`,
    );
  }
}
