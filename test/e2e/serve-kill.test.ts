import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '#local/api-client.ts';
import { freePort } from '#local/dynamodb-local.ts';
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

describe('recoverseg serve --data DIR killed with SIGKILL mid-recovery', () => {
  it('leaves no DynamoDB Local behind, and started again closes the run on record and recovers anew', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'recoverseg-kill-'));
    const port = await freePort();
    const first = await serve(port, cwd);
    // The data where the user said, and nothing else of DynamoDB Local's in their directory.
    expect(first.stdout()).toContain(`data in ${join(cwd, 'state')}`);
    expect(readdirSync(cwd)).toEqual(['state']);
    const java = children(first.child.pid!).find((c) => c.comm === 'java');
    expect(java, 'serve runs DynamoDB Local as its child').toBeDefined();
    const api = new ApiClient(`http://127.0.0.1:${port}`);
    await api.request('POST', '/clusters', {
      clusterId: 'seed',
      segments: seedScenario.segments,
      simulation: { timeScale: 0 },
    });
    await api.request('POST', '/clusters/seed/faults', { host: 'segment-2' });
    // The run waits for an operator's approval: it is mid-recovery when serve dies.
    await api.request('POST', '/clusters/seed/recoveries', {
      incidentId: 'before-kill',
      rebalancePolicy: 'approval',
      waits: { pollSeconds: 0, approvalPollSeconds: 3600 },
    });
    await until('awaiting the rebalance', async () => {
      const status = (await api.request('GET', '/clusters/seed/status')) as { phase: string };
      return status.phase === 'awaiting-rebalance';
    });
    first.child.kill('SIGKILL');
    await until('dead', () => !alive(first.child.pid!));
    await until('rid of DynamoDB Local', () => !alive(java!.pid));

    const second = await serve(port, cwd);
    try {
      expect(second.stdout()).toContain(
        'cluster seed: incident before-kill was left open by a serve that stopped; closed as abandoned',
      );
      type Status = {
        recovery: unknown;
        lastIncident: { incidentId: string; status: string; reason: string };
      };
      // status reads the projection, which follows the log's stream.
      await until('projected', async () => {
        const s = (await api.request('GET', '/clusters/seed/status')) as Status;
        return s.recovery === null;
      });
      const status = (await api.request('GET', '/clusters/seed/status')) as Status;
      expect(status.lastIncident).toMatchObject({ incidentId: 'before-kill', status: 'failed' });
      expect(status.lastIncident.reason).toMatch(/^abandoned: /);
      const started = await api.request('POST', '/clusters/seed/recoveries', {
        incidentId: 'after-kill',
        waits: { pollSeconds: 0 },
      });
      expect(started).toMatchObject({ alreadyStarted: false });
      await until('recovered', async () => {
        const s = (await api.request('GET', '/clusters/seed/status')) as {
          lastIncident: { incidentId: string; status: string } | null;
        };
        return s.lastIncident?.incidentId === 'after-kill';
      });
      const end = (await api.request('GET', '/clusters/seed/status')) as {
        lastIncident: { status: string };
        gpstateErrors: string[];
      };
      expect(end.lastIncident.status).toBe('succeeded');
      expect(end.gpstateErrors.at(-1)).toBe('All segments are running normally');
    } finally {
      second.child.kill('SIGINT');
      await until('stopped', () => !alive(second.child.pid!));
    }
  }, 180_000);
});
