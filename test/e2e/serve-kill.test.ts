import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { ApiClient, ApiError } from '#local/api-client.ts';
import { freePort } from '#local/dynamodb-local.ts';
import type { ServeLockInfo } from '#local/serve-lock.ts';
import { createDynamoClient } from '#store/clients.ts';
import { TABLES } from '#store/tables.ts';
import { seedScenario } from '#test/fixtures/seed.ts';

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;

/** Pids of the processes whose parent is `pid`, with their command names. */
function children(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(entry), comm });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits for a condition the processes reach by themselves (no wall-clock assertion). */
async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 60_000) {
  for (const deadline = Date.now() + limitMs; Date.now() < deadline; await sleep(100))
    if (await check()) return;
  throw new Error(`still not ${what} after ${limitMs} ms`);
}

/** `serve --data state` run in `cwd`: the directory is relative, and made if missing. */
async function serve(
  port: number,
  cwd: string,
): Promise<{ child: ChildProcess; stdout: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--data', 'state'], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', () => {});
  await until('serving', () => stdout.includes(`http://127.0.0.1:${port}`));
  return { child, stdout: () => stdout };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type Status = {
  seq: number;
  phase: string | null;
  recovery: { incidentId: string } | null;
  lastIncident: { incidentId: string; status: string } | null;
};

/** The event log's stream on or off: what DynamoDB Local once ran twice on the files lost. */
async function setStream(endpoint: string, enabled: boolean) {
  const client = createDynamoClient(endpoint);
  await client.send(
    new UpdateTableCommand({
      TableName: TABLES.eventLog.id,
      StreamSpecification: enabled
        ? { StreamEnabled: true, StreamViewType: TABLES.eventLog.stream }
        : { StreamEnabled: false },
    }),
  );
  client.destroy();
}

describe('recoverseg serve --data DIR: one per directory, killed or stopped mid-recovery', () => {
  it('refuses a second serve; started again after SIGKILL resumes the open incident with its projection at the head of the log; SIGTERM leaves it to resume', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'recoverseg-kill-'));
    const data = join(cwd, 'state');
    const lockFile = join(data, 'serve.lock');
    const port = await freePort();
    const first = await serve(port, cwd);
    // The data where the user said, and nothing else of DynamoDB Local's in their directory.
    expect(first.stdout()).toContain(`data in ${data}`);
    expect(readdirSync(cwd)).toEqual(['state']);
    const java = children(first.child.pid!).find((c) => c.comm === 'java');
    expect(java, 'serve runs DynamoDB Local as its child').toBeDefined();
    const held = JSON.parse(readFileSync(lockFile, 'utf8')) as ServeLockInfo;
    expect(held).toMatchObject({ pid: first.child.pid, apiPort: port });

    // A second serve on the same directory is refused before it starts anything.
    const second = spawnSync(
      process.execPath,
      [BIN, 'serve', '--port', String(await freePort()), '--data', 'state'],
      { cwd, encoding: 'utf8', timeout: 60_000 },
    );
    expect(second.status).toBe(2);
    expect(second.stderr).toBe(
      `recoverseg: data directory ${data} is in use by recoverseg serve PID ${held.pid} (API http://127.0.0.1:${port}, DynamoDB Local port ${held.dynamodbPort}, since ${held.startedAt}): use that one, stop it (kill ${held.pid}), or give another --data\n`,
    );
    expect(children(first.child.pid!).filter((c) => c.comm === 'java')).toHaveLength(1);

    const api = new ApiClient(`http://127.0.0.1:${port}`);
    const status = async () => (await api.request('GET', '/clusters/seed/status')) as Status;
    await api.request('POST', '/clusters', {
      clusterId: 'seed',
      segments: seedScenario.segments,
      simulation: { timeScale: 0 },
    });
    await api.request('POST', '/clusters/seed/faults', { host: 'segment-2' });
    // The run waits for an operator's approval: it is mid-recovery when serve dies.
    await api.request('POST', '/clusters/seed/recoveries', {
      incidentId: 'open',
      rebalancePolicy: 'approval',
      waits: { pollSeconds: 0, approvalPollSeconds: 3600 },
    });
    await until(
      'awaiting the rebalance',
      async () => (await status()).phase === 'awaiting-rebalance',
    );
    // A change on record the stream never carries: the projection falls behind the log.
    const dynamodb = `http://127.0.0.1:${held.dynamodbPort}`;
    await setStream(dynamodb, false);
    const { seq: head } = (await api.request('PUT', '/clusters/seed/rebalance-policy', {
      rebalancePolicy: 'approval',
    })) as { seq: number };
    await setStream(dynamodb, true);
    first.child.kill('SIGKILL');
    await until('dead', () => !alive(first.child.pid!));
    await until('rid of DynamoDB Local', () => !alive(java!.pid));
    expect(existsSync(lockFile)).toBe(true);

    const again = await serve(port, cwd);
    expect(again.stdout()).toMatch(
      new RegExp(
        `^${escape(`data directory ${data}: its serve (PID ${held.pid}, since ${held.startedAt}) is gone; taken over`)}\n` +
          `cluster seed: gp_segment_configuration was at seq \\d+ and the log at seq ${head}; rebuilt from the log\n` +
          `${escape('cluster seed: incident open resumed in phase awaiting-rebalance (its run stopped with the serve that ran it)')}\n`,
      ),
    );
    expect(await status()).toMatchObject({
      seq: head,
      recovery: { incidentId: 'open' },
      lastIncident: null,
    });
    // Its run lives again: another incident waits its turn.
    const busy = await api
      .request('POST', '/clusters/seed/recoveries', { incidentId: 'meanwhile' })
      .catch((error: unknown) => error);
    expect(busy).toBeInstanceOf(ApiError);
    expect(busy).toMatchObject({ status: 409, message: expect.stringContaining('seed--open') });

    // SIGTERM: the run is left as it is, for the next serve on the directory to resume.
    const exited = once(again.child, 'exit');
    again.child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
    expect(again.stdout()).toMatch(
      new RegExp(
        `\nstopping\nleft incident open of cluster seed in phase awaiting-rebalance \\(state \\w+\\), not failed: ${escape(`recoverseg serve --data ${data} resumes it`)}\n$`,
      ),
    );
    expect(existsSync(lockFile)).toBe(false);
  }, 180_000);
});
