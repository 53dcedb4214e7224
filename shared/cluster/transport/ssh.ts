import { hostnameSchema } from '#domain/segment.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { HostUnreachable } from '#cluster/greenplum/errors.ts';
import type { CoordinatorTransport, ScriptRequest } from './transport.ts';
import { CoordinatorScriptFailed, CoordinatorScriptTimedOut } from './errors.ts';
import { runWithStdin } from './process.ts';

export interface SshTransportOptions {
  /** The coordinator host, as `ssh` resolves it. */
  coordinator: string;
  timeoutMs?: number;
  /** The ssh program; tests put a stub first on PATH instead. */
  program?: string;
}

/** ssh's own failures (no route, refused key, unknown host) exit 255; the script never ran. */
const SSH_FAILED = 255;

/**
 * Over ssh as the admin user, the script on stdin. BatchMode: never a password prompt a
 * workflow cannot answer; a key for the admin user must be set up.
 */
export class SshTransport implements CoordinatorTransport {
  readonly coordinator: string;
  readonly encoding = 'plain' as const;
  private readonly host: string;
  private readonly timeoutMs: number;
  private readonly program: string;

  constructor(options: SshTransportOptions) {
    this.host = parseOrThrow(hostnameSchema, options.coordinator, 'coordinator');
    this.coordinator = `${this.host} (ssh)`;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.program = options.program ?? 'ssh';
  }

  async run({
    what,
    script,
    adminUser,
    timeoutMs = this.timeoutMs,
  }: ScriptRequest): Promise<string> {
    const args = [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      '-l',
      adminUser,
      '--',
      this.host,
      'bash -s',
    ];
    const result = await runWithStdin(this.program, args, script, timeoutMs);
    if (result.timedOut) throw new CoordinatorScriptTimedOut(what, this.coordinator, timeoutMs);
    if (result.code === SSH_FAILED)
      throw new HostUnreachable(
        [this.host],
        `ssh as ${adminUser} failed (${result.stderr.trim().split('\n').at(-1) ?? ''}); recoverseg uses BatchMode, so ${adminUser}@${this.host} needs a key it can use without a prompt`,
      );
    if (result.code !== 0)
      throw new CoordinatorScriptFailed(what, this.coordinator, result.code, result.stderr);
    return result.stdout;
  }
}
