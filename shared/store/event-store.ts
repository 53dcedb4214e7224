import {
  GetCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { emptyState, fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent, RecordedEvent } from '#domain/events.ts';
import { fromDocument, toDocument, type StateDocument } from '#domain/snapshot.ts';
import { itemSize, recordedEvents } from '#store/append.ts';
import { scanAll } from '#store/clients.ts';
import { ConcurrencyError } from '#store/errors.ts';
import type { AppendOptions, AppendResult, EventStorePort, SeqRange } from '#store/ports.ts';
import type { TableNames } from '#store/tables.ts';

/** DynamoDB allows 100 items per transaction: the head and the idempotency key take two. */
const EVENTS_PER_TRANSACTION = 98;
/** Below DynamoDB's 4 MB per transaction. */
const TRANSACTION_BYTES = 3_500_000;
/** Snapshots every so many events keep a long stream's read short. */
const SNAPSHOT_EVERY = 1000;
const SNAPSHOT_CHUNK_CHARS = 300_000;

const HEAD_SEQ = 0;

interface PendingBatch {
  key: string;
  firstSeq: number;
  endSeq: number;
  writtenSeq: number;
  startedAt: number;
}

interface Head {
  lastSeq: number;
  pending: PendingBatch | undefined;
}

/**
 * An empty map does not survive DynamoDB Streams images intact, so an event without a
 * causation is stored without the attribute and given `{}` back when read.
 */
const storedEvent = (event: RecordedEvent): Record<string, unknown> =>
  Object.keys(event.causation).length > 0 ? event : { ...event, causation: undefined };

export const recordedEventOf = (item: Record<string, unknown>): RecordedEvent =>
  ({ ...item, causation: item.causation ?? {} }) as RecordedEvent;

function chunk<T>(items: readonly T[], size: (item: T) => number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const s = size(item);
    if (
      current.length >= EVENTS_PER_TRANSACTION ||
      (current.length > 0 && bytes + s > TRANSACTION_BYTES)
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += s;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The event log on DynamoDB: one stream per cluster, seq 1, 2, 3 … without gaps, appended
 * with optimistic concurrency on a head item (seq 0). Batches larger than one transaction are
 * written chunk by chunk under a pending marker and become visible at once when the last chunk
 * commits; readers never see a half-written batch.
 */
export class EventStore implements EventStorePort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
    private readonly options: {
      now?: () => number;
      pendingTimeoutMs?: number;
      /** Events folded at once after which loadState saves a snapshot (default 1000). */
      snapshotEvery?: number;
    } = {},
  ) {}

  private get snapshotEvery(): number {
    return this.options.snapshotEvery ?? SNAPSHOT_EVERY;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async append(
    clusterId: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const items = recordedEvents(clusterId, events, options);
    const { expectedSeq, idempotencyKey } = options;

    const existing = await this.findAppend(clusterId, idempotencyKey);
    if (existing) return existing;

    const head = await this.readHead(clusterId);
    if (head.pending && head.pending.key !== idempotencyKey) {
      if (this.now() - head.pending.startedAt < (this.options.pendingTimeoutMs ?? 60_000))
        throw new ConcurrencyError(
          clusterId,
          expectedSeq,
          `another batch is being written (seq ${head.pending.firstSeq}..${head.pending.endSeq})`,
        );
      await this.abandonPending(clusterId, head.pending);
      head.pending = undefined;
    }
    const resumeFrom = head.pending?.key === idempotencyKey ? head.pending.writtenSeq : expectedSeq;
    if (!head.pending && head.lastSeq !== expectedSeq)
      throw new ConcurrencyError(clusterId, expectedSeq, `the log is at seq ${head.lastSeq}`);

    const chunks = chunk(
      items.filter((item) => item.seq > resumeFrom),
      itemSize,
    );
    const startedAt = head.pending?.startedAt ?? this.now();
    for (const [i, events] of chunks.entries()) {
      const first = i === 0 && !head.pending;
      const last = i === chunks.length - 1;
      const duplicate = await this.writeChunk(clusterId, events, {
        first,
        last,
        expectedSeq,
        key: idempotencyKey,
        prevSeq: events[0]!.seq - 1,
        endSeq: items.at(-1)!.seq,
        startedAt,
      });
      if (duplicate) return duplicate;
    }
    return { firstSeq: expectedSeq + 1, lastSeq: items.at(-1)!.seq, duplicate: false };
  }

  private async writeChunk(
    clusterId: string,
    events: RecordedEvent[],
    c: {
      first: boolean;
      last: boolean;
      expectedSeq: number;
      key: string;
      prevSeq: number;
      endSeq: number;
      startedAt: number;
    },
  ): Promise<AppendResult | undefined> {
    const writtenSeq = events.at(-1)!.seq;
    const headUpdate = c.first
      ? {
          ConditionExpression: `${c.expectedSeq === 0 ? 'attribute_not_exists(lastSeq)' : 'lastSeq = :expected'} AND attribute_not_exists(pending)`,
          ...(c.last
            ? {
                UpdateExpression: 'SET lastSeq = :end',
                ExpressionAttributeValues: { ':end': c.endSeq },
              }
            : {
                UpdateExpression: 'SET pending = :pending',
                ExpressionAttributeValues: {
                  ':pending': {
                    key: c.key,
                    firstSeq: c.expectedSeq + 1,
                    endSeq: c.endSeq,
                    writtenSeq,
                    startedAt: c.startedAt,
                  },
                },
              }),
        }
      : {
          ConditionExpression: 'pending.#key = :key AND pending.writtenSeq = :prev',
          ExpressionAttributeNames: { '#key': 'key' },
          ...(c.last
            ? {
                UpdateExpression: 'SET lastSeq = :end REMOVE pending',
                ExpressionAttributeValues: { ':end': c.endSeq, ':key': c.key, ':prev': c.prevSeq },
              }
            : {
                UpdateExpression: 'SET pending.writtenSeq = :written',
                ExpressionAttributeValues: {
                  ':written': writtenSeq,
                  ':key': c.key,
                  ':prev': c.prevSeq,
                },
              }),
        };
    if (c.first && c.expectedSeq !== 0)
      (headUpdate.ExpressionAttributeValues as Record<string, unknown>)[':expected'] =
        c.expectedSeq;

    const transactItems: NonNullable<TransactWriteCommandInput['TransactItems']> = [
      {
        Update: {
          TableName: this.tables.eventLog,
          Key: { clusterId, seq: HEAD_SEQ },
          ...headUpdate,
        },
      },
      ...events.map((event) => ({
        Put: {
          TableName: this.tables.eventLog,
          Item: storedEvent(event),
          ConditionExpression: 'attribute_not_exists(seq)',
        },
      })),
    ];
    if (c.last)
      transactItems.push({
        Put: {
          TableName: this.tables.control,
          Item: {
            pk: `idem#${clusterId}`,
            sk: c.key,
            firstSeq: c.expectedSeq + 1,
            lastSeq: c.endSeq,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: transactItems }));
      return undefined;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (reasons.some((r) => r.Code === 'TransactionConflict'))
        throw new ConcurrencyError(clusterId, c.expectedSeq, 'another append was in flight');
      const duplicate = await this.findAppend(clusterId, c.key);
      if (duplicate) return duplicate;
      const head = await this.readHead(clusterId);
      throw new ConcurrencyError(clusterId, c.expectedSeq, `the log is at seq ${head.lastSeq}`);
    }
  }

  /** Removes the written part of a batch whose writer died; its events were never visible. */
  private async abandonPending(clusterId: string, pending: PendingBatch): Promise<void> {
    const seqs: number[] = [];
    for (let seq = pending.firstSeq; seq <= pending.writtenSeq; seq++) seqs.push(seq);
    const chunks = chunk(seqs, () => 1);
    if (chunks.length === 0) chunks.push([]);
    for (const [i, part] of chunks.entries()) {
      const headKey = { TableName: this.tables.eventLog, Key: { clusterId, seq: HEAD_SEQ } };
      const guard = {
        ConditionExpression: 'pending.#key = :key',
        ExpressionAttributeNames: { '#key': 'key' },
        ExpressionAttributeValues: { ':key': pending.key },
      };
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            ...part.map((seq) => ({
              Delete: { TableName: this.tables.eventLog, Key: { clusterId, seq } },
            })),
            i === chunks.length - 1
              ? { Update: { ...headKey, ...guard, UpdateExpression: 'REMOVE pending' } }
              : { ConditionCheck: { ...headKey, ...guard } },
          ],
        }),
      );
    }
  }

  private async findAppend(clusterId: string, key: string): Promise<AppendResult | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tables.control,
        Key: { pk: `idem#${clusterId}`, sk: key },
        ConsistentRead: true,
      }),
    );
    return Item
      ? { firstSeq: Item.firstSeq as number, lastSeq: Item.lastSeq as number, duplicate: true }
      : undefined;
  }

  async readHead(clusterId: string): Promise<Head> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tables.eventLog,
        Key: { clusterId, seq: HEAD_SEQ },
        ConsistentRead: true,
      }),
    );
    return {
      lastSeq: (Item?.lastSeq as number | undefined) ?? 0,
      pending: Item?.pending as PendingBatch | undefined,
    };
  }

  /** Committed events with `afterSeq < seq <= toSeq`, in order, page by page. */
  async *readPages(clusterId: string, range: SeqRange = {}): AsyncGenerator<RecordedEvent[]> {
    const committed = (await this.readHead(clusterId)).lastSeq;
    yield* this.pages(
      clusterId,
      range.afterSeq ?? 0,
      Math.min(range.toSeq ?? committed, committed),
    );
  }

  /** Events `afterSeq < seq <= toSeq` of a log known to be committed up to `toSeq`. */
  private async *pages(
    clusterId: string,
    afterSeq: number,
    toSeq: number,
  ): AsyncGenerator<RecordedEvent[]> {
    if (toSeq <= afterSeq) return;
    const query = (ExclusiveStartKey?: Record<string, unknown>): Promise<QueryCommandOutput> =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tables.eventLog,
          KeyConditionExpression: 'clusterId = :c AND seq BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':c': clusterId, ':from': afterSeq + 1, ':to': toSeq },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
    // The next page is requested before the caller folds this one, so a long read costs the
    // Query round trips and not Query plus fold.
    let next: Promise<QueryCommandOutput> | undefined = query();
    try {
      while (next) {
        const page: QueryCommandOutput = await next;
        next = page.LastEvaluatedKey ? query(page.LastEvaluatedKey) : undefined;
        if (page.Items && page.Items.length > 0) yield page.Items.map(recordedEventOf);
      }
    } finally {
      // A caller that stops early (a fold that throws) leaves a prefetch nobody awaits.
      next?.catch(() => {});
    }
  }

  async read(clusterId: string, range: SeqRange = {}): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    for await (const page of this.readPages(clusterId, range)) events.push(...page);
    return events;
  }

  /**
   * The state at the head (or at `toSeq`): the latest snapshot at or below it, then the events
   * after. A log shorter than `snapshotEvery` has no snapshot to look for (this is where the
   * first is saved, at that length): it is read in two requests, head and events, not three.
   */
  async loadState(clusterId: string, options: { toSeq?: number } = {}): Promise<ClusterState> {
    const committed = (await this.readHead(clusterId)).lastSeq;
    const toSeq = Math.min(options.toSeq ?? committed, committed);
    let state =
      (toSeq >= this.snapshotEvery ? await this.readSnapshot(clusterId, toSeq) : undefined) ??
      emptyState();
    const fromSnapshot = state.seq;
    for await (const page of this.pages(clusterId, state.seq, toSeq)) state = fold(page, state);
    if (options.toSeq === undefined && state.seq - fromSnapshot >= this.snapshotEvery)
      await this.saveSnapshot(clusterId, state);
    return state;
  }

  async clusterIds(): Promise<string[]> {
    const heads = await scanAll(this.doc, {
      TableName: this.tables.eventLog,
      // The head item of each stream, once a batch has committed.
      FilterExpression: 'seq = :head AND lastSeq > :none',
      ProjectionExpression: 'clusterId',
      ExpressionAttributeValues: { ':head': HEAD_SEQ, ':none': 0 },
    });
    return heads.map((item) => item.clusterId as string).sort();
  }

  async saveSnapshot(clusterId: string, state: ClusterState): Promise<void> {
    const body = JSON.stringify(toDocument(state));
    const parts = Math.max(1, Math.ceil(body.length / SNAPSHOT_CHUNK_CHARS));
    const items = Array.from({ length: parts }, (_, i) => ({
      pk: `snapshot#${clusterId}`,
      sk: `${String(state.seq).padStart(12, '0')}#${String(i).padStart(4, '0')}`,
      seq: state.seq,
      part: i,
      parts,
      body: body.slice(i * SNAPSHOT_CHUNK_CHARS, (i + 1) * SNAPSHOT_CHUNK_CHARS),
    }));
    // Parts are written before they are readable as a whole: readers check `parts` and fall
    // back to an older snapshot, so no transaction is needed.
    for (const group of chunk(items, (i) => i.body.length))
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: group.map((Item) => ({ Put: { TableName: this.tables.control, Item } })),
        }),
      );
  }

  private async readSnapshot(clusterId: string, toSeq: number): Promise<ClusterState | undefined> {
    const upper = `${String(toSeq).padStart(12, '0')}#~`;
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    let collected: { seq: number; parts: number; bodies: Map<number, string> } | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tables.control,
          KeyConditionExpression: 'pk = :pk AND sk < :upper',
          ExpressionAttributeValues: { ':pk': `snapshot#${clusterId}`, ':upper': upper },
          ScanIndexForward: false,
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      ExclusiveStartKey = page.LastEvaluatedKey;
      for (const item of page.Items ?? []) {
        if (!collected || collected.seq !== item.seq)
          collected = { seq: item.seq as number, parts: item.parts as number, bodies: new Map() };
        collected.bodies.set(item.part as number, item.body as string);
        if (collected.bodies.size === collected.parts) {
          const body = [...collected.bodies]
            .sort((a, b) => a[0] - b[0])
            .map(([, b]) => b)
            .join('');
          return fromDocument(JSON.parse(body) as StateDocument);
        }
      }
    } while (ExclusiveStartKey);
    return undefined;
  }
}
