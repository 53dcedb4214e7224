import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { workflowDefinition } from '#infra/state-machine.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { startHttpApi } from '#local/http-server.ts';
import { ApiClient, ApiError } from '#local/api-client.ts';
import {
  freePort,
  startDynamoDbLocal,
  DynamoDbLocalUnavailable,
  createIsolatedTables,
} from '#local/dynamodb-local.ts';
import { createDynamoClient } from '#store/clients.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { seedScenario, seedTables } from '#test/fixtures/seed.ts';

let runtime: LocalRuntime;
let server: Server;
let client: ApiClient;
let port: number;

beforeAll(async () => {
  const endpoint = inject('dynamodbEndpoint');
  const tables = await createIsolatedTables(createDynamoClient(endpoint), 'localapi');
  runtime = await startLocalRuntime({ endpoint, tables, definition: workflowDefinition() });
  port = await freePort();
  server = await startHttpApi(runtime.api, port);
  client = new ApiClient(`http://127.0.0.1:${port}`);
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await runtime.stop();
});

describe('recoverseg serve: the API over HTTP on the local workflow', () => {
  it('registers, breaks, recovers and reports the seed cluster', async () => {
    expect(
      await client.request('POST', '/clusters', {
        clusterId: 'seed',
        segments: seedScenario.segments,
        simulation: { timeScale: 0 },
      }),
    ).toMatchObject({ seq: 1 });
    await client.request('POST', '/clusters/seed/faults', { host: 'segment-2' });
    const started = (await client.request('POST', '/clusters/seed/recoveries', {
      incidentId: 'inc-1',
      waits: { pollSeconds: 0 },
    })) as { executionName: string };
    expect(started).toMatchObject({
      incidentId: 'inc-1',
      alreadyStarted: false,
      executionName: 'seed--inc-1',
    });
    expect(
      await client.request('POST', '/clusters/seed/recoveries', { incidentId: 'inc-1' }),
    ).toMatchObject({ alreadyStarted: true });
    const result = await runtime.workflow.result(started.executionName);
    expect((await result)?.status).toBe('succeeded');
    // Reads come from the projection, which follows the log's stream.
    await runtime.poller.drain();
    const progress = (await client.request('GET', '/clusters/seed/recoveries/inc-1')) as {
      status: string;
    };
    expect(progress.status).toBe('succeeded');
    const config = (await client.request('GET', '/clusters/seed/configuration')) as {
      table: string;
    };
    expect(config.table).toBe(seedTables()[2]);
    const asOf = (await client.request('GET', '/clusters/seed/configuration', undefined, {
      seq: '6',
    })) as { rows: never[] };
    expect(renderConfigurationTable(asOf.rows)).toBe(seedTables()[0]);
    const status = (await client.request('GET', '/clusters/seed/status')) as {
      gpstateErrors: string[];
    };
    expect(status.gpstateErrors.at(-1)).toBe('All segments are running normally');
    const events = (await client.request('GET', '/clusters/seed/events', undefined, {
      limit: '5',
    })) as { events: { seq: number }[]; next: number };
    expect(events.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events.next).toBe(5);
  });

  it('answers bad requests with 4xx naming the field, over real HTTP', async () => {
    const raw = await fetch(`http://127.0.0.1:${port}/clusters`, {
      method: 'POST',
      body: '{"clusterId":',
      headers: { 'content-type': 'application/json' },
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ error: 'body: malformed JSON' });
    const big = await fetch(`http://127.0.0.1:${port}/clusters`, {
      method: 'POST',
      body: 'x'.repeat(5 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
    await expect(client.request('GET', '/clusters/nope/status')).rejects.toMatchObject({
      status: 404,
      message: 'cluster nope is not registered; register its gp_segment_configuration first',
    });
    await expect(client.request('DELETE', '/clusters/seed/status')).rejects.toMatchObject({
      status: 405,
    });
    await expect(
      client.request('POST', '/clusters/seed/faults', { host: 'segment-9' }),
    ).rejects.toBeInstanceOf(ApiError);
  });
});

describe('local runtime start-up errors say what to do', () => {
  it('refuses a DynamoDB Local port that is in use', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const busy = (blocker.address() as { port: number }).port;
    await expect(startDynamoDbLocal({ port: busy })).rejects.toThrow(
      new DynamoDbLocalUnavailable(
        `port ${busy} is in use: choose another with --port, or stop what listens there`,
      ),
    );
    blocker.close();
  });

  it('refuses an API port that is in use', async () => {
    await expect(startHttpApi(runtime.api, port)).rejects.toThrow(
      `port ${port} is in use: choose another with --port, or stop what listens there`,
    );
  });
});
