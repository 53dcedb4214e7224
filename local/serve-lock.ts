import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '#local/cli-common.ts';

/** Who serves a data directory, and where: the content of its `serve.lock`. */
export interface ServeLockInfo {
  pid: number;
  /**
   * When that process started, in the kernel's clock ticks since boot (/proc/PID/stat, field
   * 22): a PID reused by another program after the holder died has another start time.
   * Absent where there is no /proc.
   */
  processStart?: string;
  apiPort: number;
  /** Known once DynamoDB Local answers. */
  dynamodbPort?: number;
  startedAt: string;
}

/** Another `serve` holds the data directory: one line naming it, exit 2. */
export class DataDirectoryInUse extends UsageError {
  override name = 'DataDirectoryInUse';
}

export const SERVE_LOCK = 'serve.lock';

/** The start time of process `pid` as /proc tells it; undefined without /proc or once it is gone. */
export function processStart(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it lives, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder still runs: its PID lives and, where /proc says, it is the same process. */
function holderAlive(holder: ServeLockInfo): boolean {
  if (!pidAlive(holder.pid)) return false;
  const start = processStart(holder.pid);
  return start === undefined || holder.processStart === undefined || start === holder.processStart;
}

function parseLock(path: string, text: string): ServeLockInfo {
  let parsed: Partial<ServeLockInfo>;
  try {
    parsed = JSON.parse(text) as Partial<ServeLockInfo>;
  } catch {
    parsed = {};
  }
  if (!Number.isInteger(parsed.pid) || !Number.isInteger(parsed.apiPort))
    throw new UsageError(
      `${path} is not a serve lock (${JSON.stringify(text.slice(0, 80))}): if no recoverseg serve runs on this directory, delete it`,
    );
  return parsed as ServeLockInfo;
}

const readIfThere = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/**
 * One `serve` per data directory: two would run two DynamoDB Locals on the same files (each
 * writing past the other's stream, so projections go stale) and two runners on the same
 * recoveries. Held for as long as this serve runs.
 */
export class ServeLock {
  private constructor(
    readonly path: string,
    private info: ServeLockInfo,
    /** The holder found dead and replaced, if any. */
    readonly tookOver: ServeLockInfo | undefined,
  ) {}

  /**
   * Takes `DIR/serve.lock` (made with O_EXCL, so two starters never both win), or refuses
   * with DataDirectoryInUse naming the live holder. A holder that is gone (kill -9, a crash,
   * a reboot, or its PID now another program's) is replaced.
   */
  static acquire(dataDir: string, apiPort: number): ServeLock {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, SERVE_LOCK);
    const start = processStart(process.pid);
    const info: ServeLockInfo = {
      pid: process.pid,
      ...(start ? { processStart: start } : {}),
      apiPort,
      startedAt: new Date().toISOString(),
    };
    let tookOver: ServeLockInfo | undefined;
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        try {
          writeSync(fd, JSON.stringify(info));
        } finally {
          closeSync(fd);
        }
        return new ServeLock(path, info, tookOver);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const text = readIfThere(path);
      if (text === undefined) continue; // its holder just left
      const holder = parseLock(path, text);
      if (holderAlive(holder))
        throw new DataDirectoryInUse(
          `data directory ${dir} is in use by recoverseg serve PID ${holder.pid} (API http://127.0.0.1:${holder.apiPort}${
            holder.dynamodbPort ? `, DynamoDB Local port ${holder.dynamodbPort}` : ''
          }, since ${holder.startedAt}): use that one, stop it (kill ${holder.pid}), or give another --data`,
        );
      // Removed only if it is still the dead holder's: another starter may have replaced it.
      if (readIfThere(path) === text) unlinkSync(path);
      tookOver = holder;
    }
  }

  /** Adds DynamoDB Local's port once it answers (written aside, then renamed over the lock). */
  update(change: Partial<Pick<ServeLockInfo, 'dynamodbPort'>>): void {
    this.info = { ...this.info, ...change };
    const aside = `${this.path}.${process.pid}`;
    writeFileSync(aside, JSON.stringify(this.info));
    renameSync(aside, this.path);
  }

  /** Gives the directory up, if the lock is still this process's. */
  release(): void {
    if (readIfThere(this.path) === JSON.stringify(this.info)) unlinkSync(this.path);
  }
}
