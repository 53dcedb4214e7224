import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '#api/http.ts';
import type { NewEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { seedGpstate, seedIncidentPhases, seedScenario, seedTables } from '#test/fixtures/seed.ts';
import { apiHarness, NOW, type ApiHarness } from './support.ts';

const [, failure, recovery, rebalance] = seedIncidentPhases();
const [promotedTable, , healthyTable] = seedTables();
const segments = (): SegmentRow[] => structuredClone(seedScenario.segments);
const at = NOW.toISOString();

let api: ApiHarness;
let n = 0;
const fresh = () => `c${++n}`;

async function register(clusterId: string, rows: SegmentRow[] = segments()) {
  const reply = await api.call('POST', '/clusters', {
    body: { clusterId, segments: rows, simulation: { timeScale: 0 } },
  });
  expect(reply.status).toBe(201);
}

async function appendEvents(clusterId: string, events: NewEvent[], key: string) {
  const head = await api.stores.events.readHead(clusterId);
  await api.stores.events.append(clusterId, events, {
    expectedSeq: head.lastSeq,
    idempotencyKey: key,
    at,
  });
}

beforeAll(async () => {
  api = apiHarness();
});

describe('POST /clusters registers a cluster once', () => {
  it('answers 201 with the last seq, then 200 with the same seq on a repeat, writing the registration once', async () => {
    const id = fresh();
    const body = { clusterId: id, segments: segments(), simulation: { timeScale: 0 } };
    const first = await api.call('POST', '/clusters', { body });
    expect(first).toMatchObject({ status: 201, body: { clusterId: id, seq: 1, segments: 10 } });
    const again = await api.call('POST', '/clusters', { body });
    expect(again).toMatchObject({ status: 200, body: { clusterId: id, seq: 1, segments: 10 } });
    expect((await api.stores.events.read(id)).map((e) => e.type)).toEqual(['ClusterRegistered']);
  });

  it('refuses a second registration with a different configuration with 409 naming body.segments', async () => {
    const id = fresh();
    await register(id);
    const moved = segments().map((r) => (r.dbid === 6 ? { ...r, port: 20099 } : r));
    const reply = await api.call('POST', '/clusters', { body: { clusterId: id, segments: moved } });
    expect(reply).toMatchObject({ status: 409, body: { path: 'body.segments', name: 'Conflict' } });
    expect(reply.body.error).toMatch(/already registered with a different configuration/);
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(1);
  });

  it('creates the simulation on a retry when the first attempt appended but failed to create it', async () => {
    const id = fresh();
    const simulator = api.deps.simulator!;
    const create = simulator.create;
    simulator.create = async () => {
      simulator.create = create;
      throw new Error('throttled');
    };
    const body = { clusterId: id, segments: segments(), simulation: { timeScale: 0 } };
    expect((await api.call('POST', '/clusters', { body })).status).toBe(500);
    expect(api.errors.at(-1)?.message).toBe('request failed');
    expect((await api.call('POST', '/clusters', { body })).status).toBe(200);
    expect((await api.call('POST', `/clusters/${id}/faults`, { body: { dbid: 6 } })).status).toBe(
      202,
    );
  });

  it('answers 422 naming the content when the topology is not one Greenplum shows', async () => {
    const id = fresh();
    const twoPrimaries = segments().map((r) => (r.dbid === 6 ? { ...r, role: 'p' as const } : r));
    const reply = await api.call('POST', '/clusters', {
      body: { clusterId: id, segments: twoPrimaries },
    });
    expect(reply).toMatchObject({ status: 422, body: { name: 'InvalidTopology' } });
    expect(reply.body.error).toMatch(/content 0 has two acting primaries \(dbid 2, 6\)/);
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(0);
  });

  it('answers 422 naming the dbid that appears twice', async () => {
    const id = fresh();
    const rows = segments();
    const reply = await api.call('POST', '/clusters', {
      body: { clusterId: id, segments: [...rows, rows[3]] },
    });
    expect(reply.status).toBe(422);
    expect(reply.body.error).toMatch(new RegExp(`dbid ${rows[3]!.dbid} appears twice`));
  });
});

describe('reads of a registered cluster', () => {
  const id = 'reads';
  beforeAll(async () => {
    await register(id);
    await appendEvents(id, failure, 'fts');
  });

  it('GET configuration answers the current rows and the seed-layout table', async () => {
    const reply = await api.call('GET', `/clusters/${id}/configuration`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ clusterId: id, seq: 5, table: promotedTable });
    expect(reply.body.rows).toHaveLength(10);
  });

  it('GET configuration?seq= answers the configuration as of that seq', async () => {
    const reply = await api.call('GET', `/clusters/${id}/configuration`, { query: { seq: '1' } });
    expect(reply).toMatchObject({ status: 200, body: { seq: 1, table: healthyTable } });
  });

  it('serves reads from the projection once the projector caught up', async () => {
    await api.stores.projector.project(id);
    const reply = await api.call('GET', `/clusters/${id}/configuration`);
    expect(reply).toMatchObject({ status: 200, body: { seq: 5, table: promotedTable } });
  });

  it('GET /clusters lists each cluster once its projection exists, with its head seq and recovery', async () => {
    const unprojected = fresh();
    await register(unprojected);
    await api.stores.projector.project(id);
    const reply = await api.call('GET', '/clusters');
    expect(reply.status).toBe(200);
    const clusters = reply.body.clusters as { clusterId: string }[];
    expect(clusters).toContainEqual({
      clusterId: id,
      seq: 5,
      recovery: null,
      lastIncident: null,
      doubleFaults: [],
    });
    // The list is the projection's: a cluster the projector has not reached is not in it yet.
    expect(clusters.map((c) => c.clusterId)).not.toContain(unprojected);
    expect(clusters.map((c) => c.clusterId)).toEqual(
      clusters.map((c) => c.clusterId).sort((a, b) => a.localeCompare(b)),
    );
    await api.stores.projector.project(unprojected);
    const after = await api.call('GET', '/clusters');
    expect((after.body.clusters as { clusterId: string }[]).map((c) => c.clusterId)).toContain(
      unprojected,
    );
  });

  it('GET events pages with after and limit and says where the next page starts', async () => {
    const page = async (query: Record<string, string>) => {
      const reply = await api.call('GET', `/clusters/${id}/events`, { query });
      expect(reply.status).toBe(200);
      return {
        seqs: (reply.body.events as { seq: number }[]).map((e) => e.seq),
        next: reply.body.next,
      };
    };
    expect(await page({ limit: '2' })).toEqual({ seqs: [1, 2], next: 2 });
    expect(await page({ after: '2', limit: '2' })).toEqual({ seqs: [3, 4], next: 4 });
    expect(await page({ after: '4', limit: '2' })).toEqual({ seqs: [5], next: null });
    expect(await page({})).toEqual({ seqs: [1, 2, 3, 4, 5], next: null });
  });

  it('GET status renders gpstate -m and -e for the failed host', async () => {
    const reply = await api.call('GET', `/clusters/${id}/status`);
    expect(reply.status).toBe(200);
    const errors = (reply.body.gpstateErrors as string[]).join('\n');
    expect(errors).toContain('Segments with Primary and Mirror Roles Switched');
    expect(errors).toContain('Downed Segments');
    expect(reply.body).toMatchObject({ seq: 5, recovery: null, doubleFaults: [] });
  });

  it('GET status of a healthy cluster is exactly the seed gpstate output', async () => {
    const healthy = fresh();
    await register(healthy);
    const reply = await api.call('GET', `/clusters/${healthy}/status`);
    expect(reply.body.gpstateMirrors).toEqual(seedGpstate('-m').slice(3));
    expect(reply.body.gpstateErrors).toEqual(seedGpstate('-e').slice(4));
  });
});

describe('POST /clusters/{id}/recoveries starts one execution per incident', () => {
  it('answers 202 with the execution, then 200 alreadyStarted for the same incident', async () => {
    const id = fresh();
    await register(id);
    const calls = api.starter.calls.length;
    const first = await api.call('POST', `/clusters/${id}/recoveries`, {
      body: { incidentId: 'inc-1', rebalance: false },
    });
    expect(first).toMatchObject({
      status: 202,
      body: {
        clusterId: id,
        incidentId: 'inc-1',
        executionName: `${id}--inc-1`,
        alreadyStarted: false,
      },
    });
    const again = await api.call('POST', `/clusters/${id}/recoveries`, {
      body: { incidentId: 'inc-1', rebalance: false },
    });
    expect(again).toMatchObject({
      status: 200,
      body: { executionName: `${id}--inc-1`, alreadyStarted: true },
    });
    expect(api.starter.calls.slice(calls)[0]).toEqual({
      clusterId: id,
      incidentId: 'inc-1',
      kind: 'segments',
      trigger: { source: 'api' },
      options: { type: 'auto', targetHosts: {}, rebalance: false, dryRun: false, replayLagGb: 10 },
      failedHosts: [],
      waits: { pollSeconds: 30, approvalPollSeconds: 300 },
      limits: {
        maxRecoveryPolls: 1000,
        maxSyncPolls: 1000,
        syncTimeoutSeconds: 21600,
        rebalanceWaitSeconds: 172800,
        maxRebalanceChecks: 1000,
        activationWaitSeconds: 86400,
        maxFencePolls: 60,
      },
    });
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(1);
  });

  it('names the incident after the clock when the caller names none', async () => {
    const id = fresh();
    await register(id);
    const reply = await api.call('POST', `/clusters/${id}/recoveries`);
    expect(reply).toMatchObject({ status: 202, body: { incidentId: 'api-20241223120000' } });
  });

  it('accepts a full recovery moving a failed host to a new one', async () => {
    const id = fresh();
    await register(id);
    const reply = await api.call('POST', `/clusters/${id}/recoveries`, {
      body: {
        incidentId: 'move',
        type: 'full',
        targetHosts: { 'segment-2': 'segment-3' },
        failedHosts: ['segment-2'],
      },
    });
    expect(reply.status).toBe(202);
    expect(api.starter.calls.at(-1)).toMatchObject({
      options: { type: 'full', targetHosts: { 'segment-2': 'segment-3' } },
      failedHosts: ['segment-2'],
    });
  });
});

describe('GET /clusters/{id}/recoveries/{incident} reports progress', () => {
  const id = 'progress';
  beforeAll(async () => {
    await register(id);
    await appendEvents(id, failure, 'fts');
  });

  it('answers 404 for an incident with no recovery on record', async () => {
    const reply = await api.call('GET', `/clusters/${id}/recoveries/never`);
    expect(reply).toMatchObject({ status: 404, body: { name: 'NotFound' } });
    expect(reply.body.error).toMatch(/incident never of cluster progress/);
  });

  it('shows the plan and the started segments while running, and the outcome when completed', async () => {
    await appendEvents(id, recovery.slice(0, 6), 'recover-1');
    const running = await api.call('GET', `/clusters/${id}/recoveries/seed-segment-2`);
    expect(running).toMatchObject({
      status: 200,
      body: {
        status: 'running',
        executionName: `${id}--seed-segment-2`,
        started: [6, 7, 4, 5],
        outcome: null,
      },
    });
    expect(
      (running.body.plan as { dbid: number; type: string }[]).map((i) => `${i.dbid}:${i.type}`),
    ).toEqual(['6:incremental', '7:incremental', '4:incremental', '5:incremental']);
    await appendEvents(id, recovery.slice(6), 'recover-2');
    await appendEvents(id, rebalance, 'rebalance');
    const done = await api.call('GET', `/clusters/${id}/recoveries/seed-segment-2`);
    expect(done).toMatchObject({
      status: 200,
      body: {
        status: 'succeeded',
        plan: [],
        outcome: { incidentId: 'seed-segment-2', status: 'succeeded' },
      },
    });
  });
});

describe('POST /clusters/{id}/faults breaks a simulated cluster', () => {
  it('stops a host: FTS then promotes its primaries mirrors; the event log is not written', async () => {
    const id = fresh();
    await register(id);
    const reply = await api.call('POST', `/clusters/${id}/faults`, { body: { host: 'segment-2' } });
    expect(reply).toMatchObject({
      status: 202,
      body: { clusterId: id, fault: { host: 'segment-2', kind: 'host-down' } },
    });
    const cluster = api.sim(id);
    await cluster.requestFtsProbe();
    const rows = (await cluster.readConfiguration()).segments;
    expect(
      rows
        .filter((r) => r.hostname === 'segment-2')
        .map((r) => `${r.dbid}:${r.role}${r.status}`)
        .sort(),
    ).toEqual(['4:md', '5:md', '6:md', '7:md']);
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(1);
  });

  it('loses a data directory by dbid', async () => {
    const id = fresh();
    await register(id);
    expect(
      await api.call('POST', `/clusters/${id}/faults`, { body: { dbid: 7, kind: 'disk-lost' } }),
    ).toMatchObject({ status: 202, body: { fault: { dbid: 7, kind: 'disk-lost' } } });
  });
});

describe('routing', () => {
  it('answers 404 for an unknown route', async () => {
    const reply = await api.call('GET', '/clusterz');
    expect(reply).toMatchObject({ status: 404, body: { error: 'no route GET /clusterz' } });
  });

  it('answers 405 with an allow header for a known path and the wrong method', async () => {
    const reply = await api.call('DELETE', '/clusters/reads/configuration');
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET');
    expect(reply.body.error).toMatch(
      /DELETE is not allowed on \/clusters\/reads\/configuration; use GET/,
    );
  });

  it('tolerates a trailing slash', async () => {
    expect((await api.call('GET', '/clusters/reads/status/')).status).toBe(200);
  });
});

/*
 * Bad input: every request below answers 4xx with a message naming the field, and neither
 * appends to the log nor starts an execution.
 */
const seg = (change: Record<string, unknown>) =>
  segments().map((r, i) => (i === 2 ? { ...r, ...change } : r));
const long = 'x'.repeat(10_000);

interface BadRequest {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  query?: Record<string, string>;
  status: number;
  field?: string;
  message: RegExp;
  simulated?: false;
}

const BAD: BadRequest[] = [
  {
    name: 'malformed JSON',
    method: 'POST',
    path: '/clusters',
    raw: '{"clusterId": "x",',
    status: 400,
    field: 'body',
    message: /malformed JSON/,
  },
  {
    name: 'a JSON body that is not an object',
    method: 'POST',
    path: '/clusters',
    raw: '[1,2]',
    status: 400,
    field: 'body',
    message: /expected object/,
  },
  {
    name: 'a missing body',
    method: 'POST',
    path: '/clusters',
    status: 400,
    field: 'body',
    message: /expected object/,
  },
  {
    name: 'a missing clusterId',
    method: 'POST',
    path: '/clusters',
    body: { segments: segments() },
    status: 400,
    field: 'body.clusterId',
    message: /body\.clusterId/,
  },
  {
    name: 'a dbid of the wrong type',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: seg({ dbid: '3' }) },
    status: 400,
    field: 'body.segments[2].dbid',
    message: /expected number/,
  },
  {
    name: 'a role that is not p or m',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: seg({ role: 'x' }) },
    status: 400,
    field: 'body.segments[2].role',
    message: /body\.segments\[2\]\.role/,
  },
  {
    name: 'a datadir escaping with ..',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: seg({ datadir: '/data1/../etc' }) },
    status: 400,
    field: 'body.segments[2].datadir',
    message: /must not contain "\.\."/,
  },
  {
    name: 'a hostname carrying a shell command',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: seg({ hostname: 'h;rm -rf /' }) },
    status: 400,
    field: 'body.segments[2].hostname',
    message: /must be a host name/,
  },
  {
    name: 'an unknown property',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: segments(), owner: 'me' },
    status: 400,
    field: 'body',
    message: /owner/,
  },
  {
    name: 'an empty segment list',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: [] },
    status: 400,
    field: 'body.segments',
    message: /body\.segments/,
  },
  {
    name: 'a clusterId with ../',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: '../etc', segments: segments() },
    status: 400,
    field: 'body.clusterId',
    message: /must be letters, digits/,
  },
  {
    name: 'a clusterId with ;rm -rf /',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: ';rm -rf /', segments: segments() },
    status: 400,
    field: 'body.clusterId',
    message: /body\.clusterId/,
  },
  {
    name: 'a unicode clusterId',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'clüster-☃', segments: segments() },
    status: 400,
    field: 'body.clusterId',
    message: /body\.clusterId/,
  },
  {
    name: 'a 10k-character clusterId',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: long, segments: segments() },
    status: 400,
    field: 'body.clusterId',
    message: /body\.clusterId/,
  },
  {
    name: 'simulation options that are not numbers',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: segments(), simulation: { timeScale: -1 } },
    status: 400,
    field: 'body.simulation.timeScale',
    message: /timeScale/,
  },
  {
    name: 'simulation options on a real backend',
    method: 'POST',
    path: '/clusters',
    body: { clusterId: 'bad1', segments: segments(), simulation: { timeScale: 0 } },
    status: 400,
    field: 'body.simulation',
    message: /real cluster/,
    simulated: false,
  },
  {
    name: 'an oversized body',
    method: 'POST',
    path: '/clusters',
    raw: `{"clusterId":"bad1","pad":"${'x'.repeat(MAX_BODY_BYTES)}"}`,
    status: 413,
    message: /larger than/,
  },
  {
    name: 'an unknown cluster',
    method: 'GET',
    path: '/clusters/ghost/configuration',
    status: 404,
    message: /cluster ghost is not registered/,
  },
  {
    name: 'an unknown cluster on recoveries',
    method: 'POST',
    path: '/clusters/ghost/recoveries',
    body: {},
    status: 404,
    message: /cluster ghost is not registered/,
  },
  {
    name: 'a path id with ../',
    method: 'GET',
    path: '/clusters/%2E%2E%2Fetc/status',
    status: 400,
    field: 'clusterId',
    message: /must be letters/,
  },
  {
    name: 'a path id with ;rm -rf /',
    method: 'GET',
    path: `/clusters/${encodeURIComponent(';rm -rf /')}/events`,
    status: 400,
    field: 'clusterId',
    message: /clusterId/,
  },
  {
    name: 'a unicode path id',
    method: 'GET',
    path: `/clusters/${encodeURIComponent('☃')}/status`,
    status: 400,
    field: 'clusterId',
    message: /clusterId/,
  },
  {
    name: 'a 10k-character path id',
    method: 'GET',
    path: `/clusters/${long}/status`,
    status: 400,
    field: 'clusterId',
    message: /clusterId/,
  },
  {
    name: 'a path with a raw ../ segment',
    method: 'GET',
    path: '/clusters/../configuration',
    status: 400,
    field: 'clusterId',
    message: /clusterId/,
  },
  {
    name: 'a seq that is not a number',
    method: 'GET',
    path: '/clusters/api1/configuration',
    query: { seq: 'abc' },
    status: 400,
    field: 'query.seq',
    message: /whole number/,
  },
  {
    name: 'an empty seq',
    method: 'GET',
    path: '/clusters/api1/configuration',
    query: { seq: '' },
    status: 400,
    field: 'query.seq',
    message: /whole number/,
  },
  {
    name: 'a negative seq',
    method: 'GET',
    path: '/clusters/api1/configuration',
    query: { seq: '-1' },
    status: 400,
    field: 'query.seq',
    message: /whole number/,
  },
  {
    name: 'a seq in exponent notation',
    method: 'GET',
    path: '/clusters/api1/configuration',
    query: { seq: '1e3' },
    status: 400,
    field: 'query.seq',
    message: /whole number/,
  },
  {
    name: 'a zero limit',
    method: 'GET',
    path: '/clusters/api1/events',
    query: { limit: '0' },
    status: 400,
    field: 'query.limit',
    message: /query\.limit/,
  },
  {
    name: 'a limit over 1000',
    method: 'GET',
    path: '/clusters/api1/events',
    query: { limit: '1001' },
    status: 400,
    field: 'query.limit',
    message: /query\.limit/,
  },
  {
    name: 'a hostile incident id on progress',
    method: 'GET',
    path: `/clusters/api1/recoveries/${encodeURIComponent('../;rm -rf /')}`,
    status: 400,
    field: 'incidentId',
    message: /incidentId/,
  },
  {
    name: 'a 10k-character incident id',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { incidentId: long },
    status: 400,
    field: 'body.incidentId',
    message: /body\.incidentId/,
  },
  {
    name: 'an unknown recovery type',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { type: 'fast' },
    status: 400,
    field: 'body.type',
    message: /body\.type/,
  },
  {
    name: 'rebalance as a string',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { rebalance: 'yes' },
    status: 400,
    field: 'body.rebalance',
    message: /expected boolean/,
  },
  {
    name: 'a negative replay lag',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { replayLagGb: -1 },
    status: 400,
    field: 'body.replayLagGb',
    message: /body\.replayLagGb/,
  },
  {
    name: 'an unknown option',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { force: true },
    status: 400,
    field: 'body',
    message: /force/,
  },
  {
    name: 'forced incremental with target hosts',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { type: 'incremental', targetHosts: { 'segment-2': 'segment-3' } },
    status: 400,
    field: 'body.targetHosts',
    message: /incremental recovery cannot move segments to another host/,
  },
  {
    name: 'forced differential with target hosts',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { type: 'differential', targetHosts: { 'segment-2': 'segment-3' } },
    status: 400,
    field: 'body.targetHosts',
    message: /differential recovery cannot move/,
  },
  {
    name: 'a target host not in the cluster',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { targetHosts: { 'segment-9': 'segment-3' } },
    status: 400,
    field: 'body.targetHosts',
    message: /host segment-9 runs no segment of cluster api1/,
  },
  {
    name: 'a target host that is not a host name',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { targetHosts: { 'segment-2': '; rm -rf /' } },
    status: 400,
    message: /must be a host name/,
  },
  {
    name: 'a failed host not in the cluster',
    method: 'POST',
    path: '/clusters/api1/recoveries',
    body: { failedHosts: ['segment-2', 'segment-9'] },
    status: 400,
    field: 'body.failedHosts[1]',
    message: /host segment-9 runs no segment/,
  },
  {
    name: 'a fault on an unknown host',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { host: 'segment-9' },
    status: 400,
    field: 'body.host',
    message: /host segment-9 runs no segment/,
  },
  {
    name: 'a fault on an unknown dbid',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 99 },
    status: 400,
    field: 'body.dbid',
    message: /dbid 99 is not in gp_segment_configuration/,
  },
  {
    name: 'a fault of an unknown kind',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 6, kind: 'melt' },
    status: 400,
    message: /body/,
  },
  {
    name: "a fault losing the coordinator's data directory",
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 1, kind: 'disk-lost' },
    status: 422,
    message: /losing its data directory is not simulated/,
  },
  {
    name: 'a standby-lag fault without bytes',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 10, kind: 'standby-lag' },
    status: 400,
    message: /body/,
  },
  {
    name: 'a standby-lag fault of no bytes',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 10, kind: 'standby-lag', bytes: 0 },
    status: 400,
    message: /body/,
  },
  {
    name: 'a standby-lag fault over 1 TiB',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 10, kind: 'standby-lag', bytes: 2 ** 40 + 1 },
    status: 400,
    message: /body/,
  },
  {
    name: 'a standby-lag fault on a mirror',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 6, kind: 'standby-lag', bytes: 1024 },
    status: 422,
    message: /dbid 6 is not the standby coordinator/,
  },
  {
    name: 'a fault on a real backend',
    method: 'POST',
    path: '/clusters/api1/faults',
    body: { dbid: 6 },
    status: 400,
    message: /only be injected into a simulated cluster/,
    simulated: false,
  },
];

describe('bad input answers 4xx naming the field, appends nothing and starts nothing', () => {
  let real: ApiHarness;
  beforeAll(async () => {
    await register('api1');
    real = apiHarness({ simulator: false });
    const reply = await real.call('POST', '/clusters', {
      body: { clusterId: 'api1', segments: segments() },
    });
    expect(reply.status).toBe(201);
  });

  it.each(BAD)('$name -> $status', async (bad) => {
    const harness = bad.simulated === false ? real : api;
    const heads = async () =>
      Promise.all(
        ['api1', 'bad1', 'ghost'].map(
          async (c) => (await harness.stores.events.readHead(c)).lastSeq,
        ),
      );
    const before = await heads();
    const calls = harness.starter.calls.length;
    const reply = await harness.call(bad.method, bad.path, {
      body: bad.body,
      raw: bad.raw,
      query: bad.query,
    });
    expect(reply.status).toBe(bad.status);
    expect(reply.body.error).toMatch(bad.message);
    if (bad.field) {
      expect(reply.body.path).toBe(bad.field);
      expect(reply.body.error!.startsWith(bad.field)).toBe(bad.status === 400);
    }
    expect(await heads()).toEqual(before);
    expect(harness.starter.calls.length).toBe(calls);
  });
});
