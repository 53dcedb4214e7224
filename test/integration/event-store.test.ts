import { beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { EventStore } from '#store/event-store.ts';
import { ConcurrencyError, AppendRejected } from '#store/errors.ts';
import { ValidationError, InvalidTransition } from '#domain/errors.ts';
import { configurationOf, fold } from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { localDynamo, type LocalDynamo } from '#test/support.ts';
import { seedIncidentPhases } from '#test/fixtures/seed.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';

const at = '2024-12-23T12:00:00.000Z';
const [registration, failure, recovery, rebalance] = seedIncidentPhases();
let ddb: LocalDynamo;
let store: EventStore;
let n = 0;
const cluster = () => `c${++n}`;

async function itemCount(table: string, clusterId: string): Promise<number> {
  const { Items = [] } = await ddb.doc.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'clusterId = :c',
      ExpressionAttributeValues: { ':c': clusterId },
    }),
  );
  return Items.length;
}

beforeAll(async () => {
  ddb = await localDynamo('eventstore');
  store = new EventStore(ddb.doc, ddb.tables);
});

describe('EventStore on DynamoDB Local', () => {
  it('appends with seq 1, 2, 3 … and reads back in order', async () => {
    const id = cluster();
    const r1 = await store.append(id, registration, {
      expectedSeq: 0,
      idempotencyKey: 'register',
      at,
    });
    expect(r1).toEqual({ firstSeq: 1, lastSeq: 1, duplicate: false });
    const r2 = await store.append(id, failure, {
      expectedSeq: 1,
      idempotencyKey: 'fts-1',
      at,
      causation: { executionId: 'exec-1', state: 'Detect' },
    });
    expect(r2).toEqual({ firstSeq: 2, lastSeq: 5, duplicate: false });
    const events = await store.read(id);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events[1]).toMatchObject({
      clusterId: id,
      type: 'SegmentMarkedDown',
      at,
      idempotencyKey: 'fts-1',
      causation: { executionId: 'exec-1', state: 'Detect' },
    });
    expect(await store.read(id, { afterSeq: 3 })).toHaveLength(2);
  });

  it('treats a repeated idempotency key as a no-op returning the original seqs', async () => {
    const id = cluster();
    await store.append(id, registration, { expectedSeq: 0, idempotencyKey: 'register', at });
    const first = await store.append(id, failure, {
      expectedSeq: 1,
      idempotencyKey: 'exec/Detect',
      at,
    });
    const again = await store.append(id, failure, {
      expectedSeq: 1,
      idempotencyKey: 'exec/Detect',
      at,
    });
    expect(again).toEqual({ ...first, duplicate: true });
    expect(await store.read(id)).toHaveLength(5);
  });

  it('raises ConcurrencyError when the expected seq is stale, and writes nothing', async () => {
    const id = cluster();
    await store.append(id, registration, { expectedSeq: 0, idempotencyKey: 'register', at });
    await expect(
      store.append(id, failure, { expectedSeq: 0, idempotencyKey: 'late', at }),
    ).rejects.toThrow(ConcurrencyError);
    await expect(
      store.append(id, failure, { expectedSeq: 7, idempotencyKey: 'ahead', at }),
    ).rejects.toThrow(/expected last seq 7, but the log is at seq 1/);
    expect(await store.read(id)).toHaveLength(1);
  });

  it('lets exactly one of many racing appenders win each seq, losing nothing and duplicating nothing', async () => {
    const id = cluster();
    await store.append(id, registration, { expectedSeq: 0, idempotencyKey: 'register', at });
    const writers = 12;
    const won: number[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const event: NewEvent = {
          type: 'RecoveryFailed',
          data: { incidentId: `w${w}`, phase: 'detect', reason: 'x' },
        };
        for (;;) {
          const state = await store.loadState(id);
          try {
            // Each writer appends a request and its failure, so the fold must stay consistent.
            const r = await store.append(
              id,
              [
                {
                  type: 'RecoveryRequested',
                  data: {
                    incidentId: `w${w}`,
                    trigger: { source: 'api' },
                    options:
                      recovery[0]!.type === 'RecoveryRequested'
                        ? recovery[0]!.data.options
                        : ({} as never),
                  },
                },
                event,
              ],
              { expectedSeq: state.seq, idempotencyKey: `writer-${w}`, at, state },
            );
            won.push(r.firstSeq);
            return;
          } catch (error) {
            if (!(error instanceof ConcurrencyError)) throw error;
          }
        }
      }),
    );
    const events = await store.read(id);
    expect(events.map((e) => e.seq)).toEqual(
      Array.from({ length: 1 + writers * 2 }, (_, i) => i + 1),
    );
    expect(new Set(events.map((e) => e.idempotencyKey)).size).toBe(writers + 1);
    expect(won.sort((a, b) => a - b)).toEqual(Array.from({ length: writers }, (_, i) => 2 + i * 2));
  });

  it('appends a batch larger than one transaction atomically and in a handful of calls', async () => {
    const id = cluster();
    const segments = groupMirroredCluster(75, 8);
    const parts: NewEvent[] = [];
    for (let i = 0; i < segments.length; i += 100)
      parts.push({
        type: 'ClusterRegistered',
        data: {
          segments: segments.slice(i, i + 100),
          part: parts.length + 1,
          parts: Math.ceil(segments.length / 100),
        },
      });
    await store.append(id, parts, { expectedSeq: 0, idempotencyKey: 'register', at });
    const state = await store.loadState(id);
    const failures: NewEvent[] = segments
      .filter((s) => s.role === 'm')
      .map((s) => ({ type: 'SegmentMarkedDown', data: { dbid: s.dbid } }));
    let calls = 0;
    const counting = new EventStore(
      { send: (command: never) => (calls++, ddb.doc.send(command)) } as never,
      ddb.tables,
    );
    const result = await counting.append(id, failures, {
      expectedSeq: state.seq,
      idempotencyKey: 'host-down',
      at,
      state,
    });
    expect(result.lastSeq - result.firstSeq + 1).toBe(600);
    // Two reads (idempotency key, head) and one transaction per 98 events.
    expect(calls).toBe(2 + Math.ceil(600 / 98));
    const after = await store.loadState(id);
    expect(configurationOf(after).filter((r) => r.status === 'd')).toHaveLength(600);
  });

  it('never shows a half-written batch, and a later writer rolls an abandoned one back', async () => {
    const id = cluster();
    await store.append(id, registration, { expectedSeq: 0, idempotencyKey: 'register', at });
    // A writer that died after its first chunk: events 2..3 written under a pending marker.
    await ddb.doc.send(
      new PutCommand({
        TableName: ddb.tables.eventLog,
        Item: {
          clusterId: id,
          seq: 0,
          lastSeq: 1,
          pending: { key: 'dead', firstSeq: 2, endSeq: 200, writtenSeq: 3, startedAt: 0 },
        },
      }),
    );
    for (const seq of [2, 3])
      await ddb.doc.send(
        new PutCommand({
          TableName: ddb.tables.eventLog,
          Item: {
            clusterId: id,
            seq,
            type: 'SegmentMarkedDown',
            data: { dbid: 6 },
            at,
            idempotencyKey: 'dead',
            causation: {},
          },
        }),
      );
    expect(await store.read(id)).toHaveLength(1);
    const fresh = new EventStore(ddb.doc, ddb.tables, { now: () => 10, pendingTimeoutMs: 60_000 });
    await expect(
      fresh.append(id, failure, { expectedSeq: 1, idempotencyKey: 'next', at }),
    ).rejects.toThrow(/another batch is being written/);
    const later = new EventStore(ddb.doc, ddb.tables, {
      now: () => 120_000,
      pendingTimeoutMs: 60_000,
    });
    await later.append(id, failure, { expectedSeq: 1, idempotencyKey: 'next', at });
    const events = await store.read(id);
    expect(events.map((e) => e.idempotencyKey)).toEqual([
      'register',
      'next',
      'next',
      'next',
      'next',
    ]);
  });

  it('loads state from a snapshot and the events after it; a shorter log is read whole', async () => {
    const id = cluster();
    // Snapshots from 5 events on: the first loadState of the 5-event log saves one at seq 5.
    const snapshotting = new EventStore(ddb.doc, ddb.tables, { snapshotEvery: 5 });
    await snapshotting.append(id, registration, { expectedSeq: 0, idempotencyKey: 'r', at });
    await snapshotting.append(id, failure, { expectedSeq: 1, idempotencyKey: 'f', at });
    const atFive = await snapshotting.loadState(id);
    expect(atFive.seq).toBe(5);
    const snapshots = async () =>
      (
        await ddb.doc.send(
          new QueryCommand({
            TableName: ddb.tables.control,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': `snapshot#${id}` },
          }),
        )
      ).Items ?? [];
    expect((await snapshots()).map((item) => item.seq)).toEqual([5]);
    await snapshotting.append(id, recovery, { expectedSeq: 5, idempotencyKey: 'rec', at });
    const state = await snapshotting.loadState(id);
    expect(configurationOf(state)).toEqual(
      configurationOf(fold([...registration, ...failure, ...recovery])),
    );
    const asOf = await snapshotting.loadState(id, { toSeq: 5 });
    expect(asOf.seq).toBe(5);
    expect(configurationOf(asOf)).toEqual(configurationOf(fold([...registration, ...failure])));

    // The snapshot is what is read: one that disagrees with the log (never written so) wins...
    await snapshotting.saveSnapshot(id, { ...fold(registration), seq: 5 });
    expect(configurationOf(await snapshotting.loadState(id, { toSeq: 5 }))).toEqual(
      configurationOf(fold(registration)),
    );
    // ...and a store that snapshots from 1000 events on does not look for one in 9.
    expect(configurationOf(await store.loadState(id, { toSeq: 5 }))).toEqual(
      configurationOf(fold([...registration, ...failure])),
    );
    void rebalance;
  });
});

describe('EventStore refuses bad appends before writing anything', () => {
  const bad: [string, string, unknown[], object, RegExp, new (...args: never[]) => Error][] = [
    [
      'an unknown event type',
      'x1',
      [{ type: 'SegmentExploded', data: {} }],
      {},
      /events\[0\]\.type/,
      ValidationError,
    ],
    [
      'a wrong field type',
      'x2',
      [{ type: 'SegmentMarkedDown', data: { dbid: '6' } }],
      {},
      /events\[0\]\.data\.dbid/,
      ValidationError,
    ],
    [
      'an extra field',
      'x3',
      [{ type: 'SegmentMarkedDown', data: { dbid: 6, force: true } }],
      {},
      /events\[0\]\.data/,
      ValidationError,
    ],
    [
      'a hostile host name',
      'x4',
      [
        {
          type: 'ClusterRegistered',
          data: {
            segments: [
              {
                dbid: 1,
                content: -1,
                role: 'p',
                preferred_role: 'p',
                mode: 'n',
                status: 'u',
                port: 5432,
                hostname: 'a;rm -rf /',
                address: 'a',
                datadir: '/d',
              },
            ],
            part: 1,
            parts: 1,
          },
        },
      ],
      {},
      /events\[0\]\.data\.segments\[0\]\.hostname/,
      ValidationError,
    ],
    ['no events', 'x5', [], {}, /nothing to append/, AppendRejected],
    [
      'a bad cluster id',
      '../etc',
      [{ type: 'SegmentMarkedDown', data: { dbid: 6 } }],
      {},
      /clusterId/,
      ValidationError,
    ],
    [
      'a missing idempotency key',
      'x6',
      [{ type: 'SegmentMarkedDown', data: { dbid: 6 } }],
      { idempotencyKey: '' },
      /idempotencyKey/,
      ValidationError,
    ],
    [
      'a negative expected seq',
      'x7',
      [{ type: 'SegmentMarkedDown', data: { dbid: 6 } }],
      { expectedSeq: -1 },
      /expectedSeq/,
      ValidationError,
    ],
    [
      'an oversized event',
      'x8',
      [
        {
          type: 'ClusterRegistered',
          data: {
            segments: groupMirroredCluster(62, 8).map((r) => ({
              ...r,
              datadir: `${r.datadir}/${'d'.repeat(900)}`,
            })),
            part: 1,
            parts: 1,
          },
        },
      ],
      {},
      /larger than 350000 bytes; split it/,
      AppendRejected,
    ],
  ];
  it.each(bad)('refuses %s', async (_name, id, events, override, message, type) => {
    await expect(
      store.append(id, events as NewEvent[], {
        expectedSeq: 0,
        idempotencyKey: 'k',
        at,
        ...override,
      }),
    ).rejects.toThrow(message);
    await expect(
      store.append(id, events as NewEvent[], {
        expectedSeq: 0,
        idempotencyKey: 'k',
        at,
        ...override,
      }),
    ).rejects.toBeInstanceOf(type);
    expect(await itemCount(ddb.tables.eventLog, id)).toBe(0);
  });

  it('refuses an event that would take the catalog to an impossible state', async () => {
    const id = cluster();
    await store.append(id, registration, { expectedSeq: 0, idempotencyKey: 'r', at });
    const state = await store.loadState(id);
    await expect(
      store.append(
        id,
        [
          { type: 'MirrorPromoted', data: { content: 0, promotedDbid: 6, demotedDbid: 2 } },
          { type: 'SegmentMarkedDown', data: { dbid: 2 } },
        ],
        {
          expectedSeq: 1,
          idempotencyKey: 'bad',
          at,
          state,
        },
      ),
    ).rejects.toThrow(InvalidTransition);
    expect(await itemCount(ddb.tables.eventLog, id)).toBe(2);
    const { Item } = await ddb.doc.send(
      new GetCommand({ TableName: ddb.tables.control, Key: { pk: `idem#${id}`, sk: 'bad' } }),
    );
    expect(Item).toBeUndefined();
  });

  it('wrote no idempotency keys for refused appends', async () => {
    const { Items = [] } = await ddb.doc.send(new ScanCommand({ TableName: ddb.tables.control }));
    expect(Items.filter((i) => String(i.pk).startsWith('idem#x'))).toEqual([]);
  });
});
