import { userInfo } from 'node:os';
import type { CoordinatorTransport, ScriptRequest } from './transport.ts';
import { CoordinatorScriptFailed, CoordinatorScriptTimedOut, NotAdminUser } from './errors.ts';
import { runWithStdin } from './process.ts';

export interface LocalTransportOptions {
  /** Per script; long operations are start-then-poll, so this stays short. */
  timeoutMs?: number;
  /** The user recoverseg runs as; read from the operating system unless a test says otherwise. */
  currentUser?: () => string;
  /** The shell that reads the script on stdin; `bash`, or a test's wrapper around it. */
  program?: string;
}

/** On the coordinator itself: bash as the current user, who must be the admin user. */
export class LocalTransport implements CoordinatorTransport {
  readonly coordinator = 'this host (local)';
  readonly encoding = 'plain' as const;
  private readonly timeoutMs: number;
  private readonly currentUser: () => string;
  private readonly program: string;

  constructor(options: LocalTransportOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.currentUser = options.currentUser ?? (() => userInfo().username);
    this.program = options.program ?? 'bash';
  }

  async run({
    what,
    script,
    adminUser,
    timeoutMs = this.timeoutMs,
  }: ScriptRequest): Promise<string> {
    const user = this.currentUser();
    if (user !== adminUser) throw new NotAdminUser(user, adminUser);
    const result = await runWithStdin(this.program, ['-s'], script, timeoutMs);
    if (result.timedOut) throw new CoordinatorScriptTimedOut(what, this.coordinator, timeoutMs);
    if (result.code !== 0)
      throw new CoordinatorScriptFailed(what, this.coordinator, result.code, result.stderr);
    return result.stdout;
  }
}
