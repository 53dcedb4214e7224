import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { ApiClient } from '#local/api-client.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { sharedDynamoFlags } from '#test/e2e/shared-dynamo.ts';
import { startServe, type ServeProcess } from '#test/e2e/serve-process.ts';

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;

let serve: ServeProcess;
let endpoint: string;
let api: ApiClient;

function recoverseg(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args, '--endpoint', endpoint], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The API from the test itself. spawnSync blocks this event loop past serve's keep-alive
 * timeout, so a pooled connection may be closed under the next request: that one is retried.
 */
async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  try {
    return await api.request(method, path, body);
  } catch (error) {
    if ((error as { status?: number }).status !== 0) throw error;
    return api.request(method, path, body);
  }
}

beforeAll(async () => {
  serve = await startServe(sharedDynamoFlags('follow'));
  endpoint = serve.endpoint;
  api = new ApiClient(endpoint);
}, 90_000);

afterAll(() => {
  serve?.child.kill('SIGTERM');
});

describe('recoverseg recover follows the run (against a real serve)', () => {
  it('follows the seed incident to its end, exit 0, with phases and bars; status in words and --json', async () => {
    // Setup through the API: every CLI spawn costs a second or two.
    // Zero simulated time: the run's pace never depends on the wall clock.
    await call('POST', '/clusters', {
      clusterId: 'seed',
      segments: seedScenario.segments,
      simulation: { timeScale: 0 },
    });
    await call('POST', '/clusters/seed/faults', { host: 'segment-2' });
    const run = recoverseg(
      'recover',
      '--cluster',
      'seed',
      '--incident',
      'one',
      '--poll-seconds',
      '0',
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('-- incident one requested by cli');
    expect(run.stdout).toContain('## promoted: FTS failed over what it could');
    expect(run.stdout).toMatch(/gprecoverseg {4}100% segments up/);
    expect(run.stdout).toContain('wait for sync   100% all pairs synchronized');
    expect(run.stdout).toContain('## redundant again: every pair synchronized');
    expect(run.stdout).toContain('-- rebalancing');
    expect(run.stdout).toContain('## rebalanced: roles back to preferred');
    expect(run.stdout).toMatch(/^recovered \(seq \d+\) in .*: promoted after .*rebalanced after/m);

    const words = recoverseg('status', '--cluster', 'seed');
    expect(words.code).toBe(0);
    expect(words.stdout).toContain('recovery in progress: none');
    expect(words.stdout).toMatch(/last incident: one ended recovered at /);
    expect(words.stdout).toMatch(/time to promoted [\d.]+ s, to redundant again/);
    const json = recoverseg('status', '--cluster', 'seed', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      clusterId: 'seed',
      lastIncident: { incidentId: 'one', status: 'succeeded', outcome: 'recovered' },
    });
  }, 60_000);

  it('exits 3 naming the approve command, 4 while the run holds the cluster, 1 once cancelled', async () => {
    await call('POST', '/clusters/seed/faults', { host: 'segment-2' });
    const waiting = recoverseg(
      'recover',
      '--cluster',
      'seed',
      '--incident',
      'night',
      '--rebalance-policy',
      'approval',
      '--poll-seconds',
      '0',
      '--json',
    );
    expect(waiting.code, waiting.stderr).toBe(3);
    expect(waiting.stderr).toContain('  recoverseg approve --cluster seed\n');
    expect(JSON.parse(waiting.stdout)).toMatchObject({
      incidentId: 'night',
      result: 'awaiting-rebalance',
      exitCode: 3,
      approveCommand: 'recoverseg approve --cluster seed',
    });

    const busy = recoverseg('recover', '--cluster', 'seed', '--incident', 'other', '--detach');
    expect(busy.code).toBe(4);
    expect(busy.stderr).toMatch(/^recoverseg: HTTP 409: .*incident night\) since \S+/);

    await call('POST', '/clusters/seed/cancellation', { by: 'test', reason: 'test' });
    // Following the same incident again reads its record: it was cancelled.
    const cancelled = recoverseg('recover', '--cluster', 'seed', '--incident', 'night');
    expect(cancelled.code).toBe(1);
    expect(cancelled.stdout).toMatch(/recovery CANCELLED by .*: test/);
  }, 60_000);

  it('--detach answers at once with one line', () => {
    const detached = recoverseg(
      'recover',
      '--cluster',
      'seed',
      '--incident',
      'dry',
      '--dry-run',
      '--detach',
    );
    expect(detached.code, detached.stderr).toBe(0);
    expect(detached.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(detached.stdout)).toMatchObject({ incidentId: 'dry', alreadyStarted: false });
  }, 30_000);
});
