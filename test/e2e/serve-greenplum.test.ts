import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ApiClient, ApiError } from '#local/api-client.ts';
import { freePort } from '#local/dynamodb-local.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { adapterRun, sectionText } from '#test/unit/cluster/greenplum/captures.ts';
import { CoordinatorStub } from '#test/unit/cluster/greenplum/coordinator-stub.ts';
import { sharedDynamoFlags } from '#test/e2e/shared-dynamo.ts';

/*
 * `recoverseg serve --cluster-backend greenplum --transport ssh` as an on-premises DBA runs it,
 * against a stub coordinator reached through a stub `ssh` and answering with what the real
 * 6.24.3 cluster printed (adapter-runs-2919f23.jsonl): the cluster is registered from its live
 * catalog, and a dry run plans the recovery of the failed host's segments in one round.
 */

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;
const HEALTHY = 'd7aba55e-54fd-4915-bd92-f2047b4bdf1f'; // 13:47:12, before any fault
const STREAMING = '1c1d52da'; // 13:47:13, every pair streaming
const HOST_DOWN = 'ccbca604'; // 13:59:24, sdw2 dead and every segment on it marked down
const NO_WALSENDER = '4e7a9338'; // 13:59:57, contents 0 and 1 without a walsender

let stub: CoordinatorStub;
let serve: ChildProcess;
let client: ApiClient;
let output = '';

async function answerAs(id: string, section: 'segments' | 'replication'): Promise<void> {
  await stub.answerSql(section, sectionText((await adapterRun(id)).decoded, section));
}

function recoverseg(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

beforeAll(async () => {
  stub = await CoordinatorStub.create();
  await answerAs(HEALTHY, 'segments');
  await answerAs(STREAMING, 'replication');
  await stub.answerSql('probe', 't\n');
  const port = await freePort();
  serve = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--port',
      String(port),
      '--cluster-backend',
      'greenplum',
      '--cluster',
      'gp6',
      '--transport',
      'ssh',
      '--coordinator',
      'mdw',
      '--gphome',
      stub.gphome,
      '--coordinator-data-directory',
      stub.coordinatorDataDirectory,
      '--admin-user',
      stub.adminUser,
      ...sharedDynamoFlags('serve-gp'),
    ],
    // The stub `ssh` first on PATH, as a real one would be.
    { env: { ...process.env, PATH: `${stub.bin}:${process.env.PATH}` } },
  );
  serve.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  serve.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (output.includes('Ctrl-C stops')) {
        clearInterval(check);
        resolve();
      }
    }, 50);
    serve.once('exit', (code) => {
      clearInterval(check);
      reject(new Error(`serve exited ${code}: ${output}`));
    });
  });
  client = new ApiClient(`http://127.0.0.1:${port}`);
}, 120_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
  }
  await stub?.dispose();
});

describe('recoverseg serve on a real cluster over ssh (stub coordinator, real outputs)', () => {
  it('registers the cluster from its live catalog, through the transport', async () => {
    expect(output).toContain(
      'registered cluster gp6 from its live catalog: 9 rows (postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213)',
    );
    const config = (await client.request('GET', '/clusters/gp6/configuration')) as {
      rows: SegmentRow[];
    };
    expect(config.rows.map((r) => `${r.dbid}${r.role}${r.status}${r.mode}@${r.hostname}`)).toEqual([
      '1pun@mdw',
      '2pus@sdw1',
      '6mus@sdw2',
      '3pus@sdw1',
      '7mus@sdw2',
      '4pus@sdw2',
      '8mus@sdw1',
      '5pus@sdw2',
      '9mus@sdw1',
    ]);
    expect(await stub.calls('ssh')).toContainEqual(expect.stringMatching(/-l \S+ -- mdw bash -s$/));
  });

  it('refuses fault injection: there is no simulation behind a real cluster', async () => {
    const refused = await client
      .request('POST', '/clusters/gp6/faults', { host: 'sdw2' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({
      status: 400,
      message: expect.stringContaining('faults can only be injected into a simulated cluster'),
    });
  });

  it('plans the four segments of the failed host in one round (dry run)', async () => {
    await answerAs(HOST_DOWN, 'segments');
    await answerAs(NO_WALSENDER, 'replication');
    const started = (await client.request('POST', '/clusters/gp6/recoveries', {
      incidentId: 'sdw2-down',
      dryRun: true,
      trigger: { source: 'cli' },
      waits: { pollSeconds: 0 },
    })) as { executionArn?: string };
    expect(started).toBeDefined();
    let events: RecordedEvent[] = [];
    for (let attempt = 0; attempt < 600; attempt++) {
      events = (
        (await client.request('GET', '/clusters/gp6/events', undefined, { after: '0' })) as {
          events: RecordedEvent[];
        }
      ).events;
      if (events.some((e) => e.type === 'RecoveryCompleted' || e.type === 'RecoveryFailed')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(events.find((e) => e.type === 'RecoveryFailed')).toBeUndefined();
    expect(events.find((e) => e.type === 'RecoveryPlanned')?.data).toEqual({
      incidentId: 'sdw2-down',
      items: [
        { dbid: 6, content: 0, sourceDbid: 2, type: 'incremental' },
        { dbid: 7, content: 1, sourceDbid: 3, type: 'incremental' },
        { dbid: 4, content: 2, sourceDbid: 8, type: 'incremental' },
        { dbid: 5, content: 3, sourceDbid: 9, type: 'incremental' },
      ],
    });
    expect(events.find((e) => e.type === 'RecoveryCompleted')?.data).toMatchObject({
      outcome: 'planned',
    });
    // A dry run never starts gprecoverseg.
    expect(await stub.calls('gprecoverseg')).toEqual([]);
  }, 120_000);

  it('refuses a serve whose settings would reach a shell unquoted, before anything starts', () => {
    const result = recoverseg(
      'serve',
      '--cluster-backend',
      'greenplum',
      '--cluster',
      'gp6',
      '--transport',
      'local',
      '--gphome',
      '/usr/$(id)',
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^recoverseg: GPHOME: /);
  });
});
