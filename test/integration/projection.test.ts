import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { createStores, type Stores } from '#store/stores.ts';
import { projectStreamRecords } from '#store/stream-projection.ts';
import { LocalStreamPoller } from '#local/stream-poller.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { configurationOf, fold } from '#domain/evolve.ts';
import { localDynamo, type LocalDynamo } from '#test/support.ts';
import { seedIncidentPhases, seedTables } from '#test/fixtures/seed.ts';

const at = '2024-12-23T12:00:00.000Z';
let ddb: LocalDynamo;
let stores: Stores;
let poller: LocalStreamPoller;

beforeAll(async () => {
  ddb = await localDynamo('projection');
  stores = createStores(ddb.doc, ddb.tables);
  poller = new LocalStreamPoller(ddb.client, ddb.tables.eventLog, (records) =>
    projectStreamRecords(records, stores.projector),
  );
});
afterAll(async () => poller.stop());

async function appendPhase(
  clusterId: string,
  events: Parameters<Stores['events']['append']>[1],
  key: string,
) {
  const state = await stores.events.loadState(clusterId);
  await stores.events.append(clusterId, events, {
    expectedSeq: state.seq,
    idempotencyKey: key,
    at,
    state,
  });
}

describe('the seed incident through the real store, stream and projector', () => {
  it('projects the three seed tables byte for byte, and a full rebuild gives the same', async () => {
    const [table1, table2, table3] = seedTables();
    const [registration, failure, recovery, rebalance] = seedIncidentPhases();
    const id = 'seed';
    await appendPhase(id, registration, 'register');
    await appendPhase(id, failure, 'fts');
    await poller.drain();
    expect(renderConfigurationTable((await stores.projection.read(id)).rows)).toBe(table1);

    await appendPhase(id, recovery, 'gprecoverseg');
    await poller.drain();
    expect(renderConfigurationTable((await stores.projection.read(id)).rows)).toBe(table2);

    await appendPhase(id, rebalance, 'gprecoverseg-r');
    await poller.drain();
    const incremental = await stores.projection.read(id);
    expect(renderConfigurationTable(incremental.rows)).toBe(table3);
    expect(incremental.state.seq).toBe(1 + failure.length + recovery.length + rebalance.length);
    expect(incremental.state.lastIncident).toMatchObject({ status: 'succeeded' });

    for (const row of incremental.rows)
      await ddb.doc.send(
        new DeleteCommand({
          TableName: ddb.tables.configuration,
          Key: { clusterId: id, dbid: row.dbid },
        }),
      );
    await ddb.doc.send(
      new DeleteCommand({ TableName: ddb.tables.configuration, Key: { clusterId: id, dbid: 0 } }),
    );
    const rebuilt = await stores.projector.rebuild(id);
    const reread = await stores.projection.read(id);
    expect(renderConfigurationTable(reread.rows)).toBe(table3);
    expect(reread.state).toEqual(incremental.state);
    expect(configurationOf(rebuilt)).toEqual(incremental.rows);
  });

  it('applies repeated and out-of-order deliveries idempotently, filling gaps from the log', async () => {
    const [registration, failure, recovery] = seedIncidentPhases();
    const id = 'replayed';
    await appendPhase(id, registration, 'register');
    await appendPhase(id, failure, 'fts');
    await appendPhase(id, recovery, 'rec');
    const events = await stores.events.read(id);
    const expected = configurationOf(fold(events));
    const asRecord = (e: object): DynamoDBRecord => ({
      eventName: 'INSERT',
      dynamodb: { NewImage: marshallish(e), SequenceNumber: '1' },
    });

    // Only the tail is delivered: the projector reads the missing head of the log.
    const gap = await stores.projector.project(id, events.slice(3));
    expect(gap.readFromLog).toBe(true);
    expect((await stores.projection.read(id)).rows).toEqual(expected);
    // The same events again, and older ones, change nothing.
    const again = await projectStreamRecords(events.map(asRecord), stores.projector);
    expect(again.batchItemFailures).toEqual([]);
    const projected = await stores.projection.read(id);
    expect(projected.rows).toEqual(expected);
    expect(projected.state.seq).toBe(events.length);
  });

  it('reports the first record of a cluster whose projection fails, so the stream retries', async () => {
    const id = 'poisoned';
    const [registration] = seedIncidentPhases();
    await appendPhase(id, registration, 'register');
    // A corrupted log item (a bug or a hand edit) must not be projected.
    await ddb.doc.send(
      new PutCommand({
        TableName: ddb.tables.eventLog,
        Item: { clusterId: id, seq: 0, lastSeq: 2 },
      }),
    );
    await ddb.doc.send(
      new PutCommand({
        TableName: ddb.tables.eventLog,
        Item: {
          clusterId: id,
          seq: 2,
          type: 'SegmentMarkedDown',
          data: { dbid: 2 },
          at,
          idempotencyKey: 'x',
          causation: {},
        },
      }),
    );
    const response = await projectStreamRecords(
      [
        {
          eventName: 'INSERT',
          dynamodb: { NewImage: { clusterId: { S: id }, seq: { N: '2' } }, SequenceNumber: '42' },
        },
      ],
      stores.projector,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '42' }]);
  });
});

function marshallish(value: object): Record<string, never> {
  return marshallValue(value).M as Record<string, never>;
}

function marshallValue(value: unknown): Record<string, unknown> {
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(marshallValue) };
  if (value && typeof value === 'object')
    return {
      M: Object.fromEntries(
        Object.entries(value)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, marshallValue(v)]),
      ),
    };
  return { NULL: true };
}
