import type { OutputEncoding } from '#cluster/greenplum/commands.ts';

/**
 * How a script reaches the coordinator and how its answer comes back: the only thing that
 * differs between SSM Run Command, a shell on the coordinator itself, and ssh. What runs there
 * is the same script (`coordinatorScript`), as the Greenplum admin user.
 */
export interface CoordinatorTransport {
  /** Names the coordinator in errors, e.g. `i-0123456789abcdef0 (SSM)`, `mdw (ssh)`. */
  readonly coordinator: string;
  /** How the script must hand over its answer for this transport to carry it. */
  readonly encoding: OutputEncoding;
  /** Runs the script as `adminUser` on the coordinator; returns its answer, decoded. */
  run(request: ScriptRequest): Promise<string>;
}

export interface ScriptRequest {
  /** What the script asks, for errors and logs (`read gp_segment_configuration`). */
  what: string;
  script: string;
  adminUser: string;
  /** Another limit than the transport's own, for one script (an activation: longer). */
  timeoutMs?: number;
}
