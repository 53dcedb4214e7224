import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '#local/cli-common.ts';
import {
  DataDirectoryInUse,
  SERVE_LOCK,
  ServeLock,
  processStart,
  type ServeLockInfo,
} from '#local/serve-lock.ts';

const directory = () => mkdtempSync(join(tmpdir(), 'recoverseg-lock-'));
const read = (dir: string) =>
  JSON.parse(readFileSync(join(dir, SERVE_LOCK), 'utf8')) as ServeLockInfo;
const write = (dir: string, info: object | string) =>
  writeFileSync(join(dir, SERVE_LOCK), typeof info === 'string' ? info : JSON.stringify(info));

/** The PID of a process that has exited. */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  return pid!;
}

describe('serve.lock: one serve per data directory', () => {
  it('refuses a second serve while the first lives, naming its PID and ports', () => {
    const dir = directory();
    const lock = ServeLock.acquire(dir, 3000);
    expect(read(dir)).toMatchObject({ pid: process.pid, apiPort: 3000 });
    expect(() => ServeLock.acquire(dir, 3001)).toThrow(
      `data directory ${dir} is in use by recoverseg serve PID ${process.pid} (API http://127.0.0.1:3000, since ${read(dir).startedAt}): use that one, stop it (kill ${process.pid}), or give another --data`,
    );
    lock.update({ dynamodbPort: 8000 });
    expect(read(dir)).toMatchObject({ pid: process.pid, apiPort: 3000, dynamodbPort: 8000 });
    expect(() => ServeLock.acquire(dir, 3001)).toThrow(
      /^data directory .* \(API http:\/\/127\.0\.0\.1:3000, DynamoDB Local port 8000, since /,
    );
    expect(() => ServeLock.acquire(dir, 3001)).toThrow(DataDirectoryInUse);
    lock.release();
    expect(existsSync(join(dir, SERVE_LOCK))).toBe(false);
    ServeLock.acquire(dir, 3001).release();
  });

  it('takes over from a holder that died (kill -9)', () => {
    const dir = directory();
    const dead = { pid: deadPid(), apiPort: 3000, startedAt: '2025-01-01T00:00:00.000Z' };
    write(dir, dead);
    const lock = ServeLock.acquire(dir, 3001);
    expect(lock.tookOver).toEqual(dead);
    expect(read(dir)).toMatchObject({ pid: process.pid, apiPort: 3001 });
    lock.release();
  });

  it.skipIf(processStart(process.pid) === undefined)(
    'takes over from a holder whose PID another program now has (another start time)',
    () => {
      const dir = directory();
      const reused = {
        pid: process.pid,
        processStart: '1',
        apiPort: 3000,
        startedAt: '2025-01-01T00:00:00.000Z',
      };
      write(dir, reused);
      const lock = ServeLock.acquire(dir, 3001);
      expect(lock.tookOver).toEqual(reused);
      lock.release();
    },
  );

  it('refuses a lock file it cannot read, and leaves it alone', () => {
    const dir = directory();
    write(dir, 'half');
    expect(() => ServeLock.acquire(dir, 3000)).toThrow(UsageError);
    expect(() => ServeLock.acquire(dir, 3000)).toThrow(
      `${join(dir, SERVE_LOCK)} is not a serve lock ("half"): if no recoverseg serve runs on this directory, delete it`,
    );
    expect(readFileSync(join(dir, SERVE_LOCK), 'utf8')).toBe('half');
  });

  it('gives up only its own lock: one that another serve took over stays', () => {
    const dir = directory();
    const lock = ServeLock.acquire(dir, 3000);
    const other = { pid: process.pid + 1, apiPort: 3001, startedAt: '2025-01-01T00:00:00.000Z' };
    write(dir, other);
    lock.release();
    expect(read(dir)).toEqual(other);
  });
});
