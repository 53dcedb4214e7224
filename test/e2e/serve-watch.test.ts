import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '#local/api-client.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { sharedDynamoFlags } from '#test/e2e/shared-dynamo.ts';
import { startServe, type ServeProcess } from '#test/e2e/serve-process.ts';

/*
 * serve --watch-seconds 1 on simulated clusters: a host dies and nobody types recover. Under
 * the policy auto the watcher starts the recovery and it runs to rebalanced; under notify (the
 * default) it records what it saw and prints the notice, and starts nothing.
 */

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;

let serve: ServeProcess;
let api: ApiClient;

beforeAll(async () => {
  serve = await startServe([
    '--watch-seconds',
    '1',
    '--poll-seconds',
    '0',
    ...sharedDynamoFlags('watch'),
  ]);
  api = new ApiClient(serve.endpoint);
}, 90_000);

afterAll(() => {
  serve?.child.kill('SIGTERM');
});

interface Status {
  recoveryPolicy: string;
  recovery: { incidentId: string } | null;
  lastIncident: { incidentId: string; status: string; outcome?: string } | null;
  watch: { wholeOnRecord: boolean; lastLook: { at: string; whole: boolean } | null };
}

const status = (cluster: string) =>
  api.request('GET', `/clusters/${cluster}/status`) as Promise<Status>;

async function events(cluster: string): Promise<RecordedEvent[]> {
  const page = (await api.request('GET', `/clusters/${cluster}/events`, undefined, {
    after: '0',
    limit: '1000',
  })) as { events: RecordedEvent[] };
  return page.events;
}

/** Polls until `done` holds; the deadline only bounds a hung run, it measures nothing. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean) {
  for (const deadline = Date.now() + 90_000; ; await sleep(200)) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: still ${JSON.stringify(value)}\nserve said:\n${serve.output()}`);
  }
}

/** Waits for two looks that start after this call: what they write, they have written. */
async function twoMoreLooks(cluster: string) {
  let mark = new Date().toISOString();
  for (const n of [1, 2]) {
    const seen = await until(
      `look ${n} after ${mark}`,
      () => status(cluster),
      (s) => s.watch.lastLook !== null && s.watch.lastLook.at > mark,
    );
    mark = seen.watch.lastLook!.at;
  }
}

const register = (clusterId: string, extra: Record<string, unknown>) =>
  api.request('POST', '/clusters', {
    clusterId,
    segments: seedScenario.segments,
    // Zero simulated time: FTS and gprecoverseg take no wall-clock time of their own.
    simulation: { timeScale: 0 },
    ...extra,
  });

describe('serve --watch-seconds 1', () => {
  it('policy auto: a dead host is recovered and rebalanced with no recover typed', async () => {
    // A watcher's run rebalances by the cluster's rebalance policy (the default for it is
    // approval: gprecoverseg -r cancels queries); this cluster allows it at once.
    await register('auto', { recoveryPolicy: 'auto', rebalancePolicy: 'immediate' });
    // Seen whole first: the watcher's record starts from a whole cluster.
    await until(
      'seen whole',
      () => status('auto'),
      (s) => s.watch.wholeOnRecord,
    );
    await api.request('POST', '/clusters/auto/faults', { host: 'segment-2' });

    const ended = await until(
      'the watcher-started recovery to end',
      () => status('auto'),
      (s) => s.lastIncident?.incidentId.startsWith('watch-') === true && s.recovery === null,
    );
    expect(ended.lastIncident).toMatchObject({ status: 'succeeded', outcome: 'recovered' });

    const log = await events('auto');
    const requests = log.filter((e) => e.type === 'RecoveryRequested');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.data).toMatchObject({
      incidentId: ended.lastIncident!.incidentId,
      trigger: { source: 'watch' },
    });
    // What the watcher saw is on record before the run it started.
    const requestedAt = requests[0]!.seq;
    expect(
      log.some((e) => e.type === 'SegmentMarkedDown' && e.seq < requestedAt),
      'the failure the watcher recorded',
    ).toBe(true);
    expect(log.map((e) => e.type)).toContain('ClusterRebalanced');

    // Back to the seed's own configuration: every row in its preferred role, up and synced.
    const config = (await api.request('GET', '/clusters/auto/configuration')) as {
      rows: SegmentRow[];
    };
    const shape = (rows: SegmentRow[]) =>
      rows.map((r) => `${r.dbid} ${r.role}${r.preferred_role} ${r.mode}${r.status}`).sort();
    expect(shape(config.rows)).toEqual(shape(seedScenario.segments));
    expect(serve.output()).toMatch(/watcher: cluster auto: .*started incident watch-\d+/);

    // Whole again, seen so by the next looks; they record it once and then nothing.
    await until(
      'seen whole again',
      () => status('auto'),
      (s) => s.watch.wholeOnRecord,
    );
    const seq = (await events('auto')).at(-1)!.seq;
    await twoMoreLooks('auto');
    expect((await events('auto')).at(-1)!.seq, 'looks at a whole cluster write nothing').toBe(seq);
  }, 150_000);

  it('policy notify (the default): records the failure, prints the notice, starts nothing', async () => {
    await register('notify', {});
    await until(
      'seen whole',
      () => status('notify'),
      (s) => s.watch.wholeOnRecord,
    );
    await api.request('POST', '/clusters/notify/faults', { host: 'segment-2' });
    await until(
      'the notice',
      async () => serve.output(),
      (out) => out.includes('notice: cluster notify'),
    );
    expect(serve.output()).toMatch(
      /notice: cluster notify, incident watch-\d+: failure detected, no recovery started: cluster notify: down: dbid \d+/,
    );
    // More looks go by; the notice went out once and nothing starts.
    await twoMoreLooks('notify');
    expect(serve.output().match(/notice: cluster notify/g)).toHaveLength(1);
    const log = await events('notify');
    expect(log.filter((e) => e.type === 'RecoveryRequested')).toEqual([]);
    expect(log.some((e) => e.type === 'SegmentMarkedDown')).toBe(true);

    const words = spawnSync(
      process.execPath,
      [BIN, 'status', '--cluster', 'notify', '--endpoint', serve.endpoint],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(words.status, words.stderr).toBe(0);
    expect(words.stdout).toContain('recovery policy notify');
    expect(words.stdout).toMatch(/watcher: last look [\d.]+ s ago: not whole; last whole at /);
  }, 150_000);
});
