import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';

export type StreamHandler = (records: DynamoDBRecord[]) => Promise<DynamoDBBatchResponse>;

interface ShardCursor {
  iterator: string | undefined;
  lastSequence: string | undefined;
  closed: boolean;
  attempts: number;
}

/**
 * What Lambda's event source mapping does in AWS, for DynamoDB Local: reads every shard of a
 * table's stream in order and hands batches to the same handler. A reported failure is
 * retried from its sequence number, up to `maxAttempts`, then skipped and reported.
 */
export class LocalStreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly cursors = new Map<string, ShardCursor>();
  private streamArn: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly handler: StreamHandler,
    private readonly options: {
      batchSize?: number;
      maxAttempts?: number;
      onDiscard?: (records: DynamoDBRecord[]) => void;
      onError?: (error: unknown) => void;
    } = {},
  ) {
    const config = dynamo.config;
    this.streams = new DynamoDBStreamsClient({
      endpoint: config.endpoint,
      region: config.region,
      credentials: config.credentials,
    });
  }

  private async arn(): Promise<string> {
    if (!this.streamArn) {
      const { Table } = await this.dynamo.send(
        new DescribeTableCommand({ TableName: this.tableName }),
      );
      if (!Table?.LatestStreamArn) throw new Error(`table ${this.tableName} has no stream`);
      this.streamArn = Table.LatestStreamArn;
    }
    return this.streamArn;
  }

  private async discoverShards(): Promise<void> {
    const StreamArn = await this.arn();
    let ExclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(
        new DescribeStreamCommand({ StreamArn, ExclusiveStartShardId }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (!shard.ShardId || this.cursors.has(shard.ShardId)) continue;
        this.cursors.set(shard.ShardId, {
          iterator: await this.iterator(shard.ShardId, { type: 'TRIM_HORIZON' }),
          lastSequence: undefined,
          closed: false,
          attempts: 0,
        });
      }
      ExclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (ExclusiveStartShardId);
  }

  /** An iterator at the shard's oldest record, or at / after a record's sequence number. */
  private async iterator(
    shardId: string,
    at:
      | { type: 'TRIM_HORIZON' }
      | { type: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER'; sequence: string },
  ): Promise<string | undefined> {
    const { ShardIterator } = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: await this.arn(),
        ShardId: shardId,
        ShardIteratorType: at.type,
        ...('sequence' in at ? { SequenceNumber: at.sequence } : {}),
      }),
    );
    return ShardIterator;
  }

  /** One pass over every shard; returns how many records were handed to the handler. */
  async pollOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * One page of a shard. An iterator that expired, or that points before the shard's oldest
   * record (DynamoDB Local says so now and then under load), is renewed and read again at
   * once, as Lambda's event source mapping does: after the last record handed over, or from
   * the oldest one. What is handed over twice is harmless: projections never move back in seq.
   */
  private async read(shardId: string, cursor: ShardCursor) {
    const page = () =>
      this.streams.send(
        new GetRecordsCommand({
          ShardIterator: cursor.iterator,
          Limit: this.options.batchSize ?? 100,
        }),
      );
    try {
      return await page();
    } catch (error) {
      if (error instanceof ExpiredIteratorException && cursor.lastSequence)
        cursor.iterator = await this.iterator(shardId, {
          type: 'AFTER_SEQUENCE_NUMBER',
          sequence: cursor.lastSequence,
        });
      else if (error instanceof TrimmedDataAccessException)
        cursor.iterator = await this.iterator(shardId, { type: 'TRIM_HORIZON' });
      else throw error;
      return page();
    }
  }

  private async pass(): Promise<number> {
    await this.discoverShards();
    let delivered = 0;
    for (const [shardId, cursor] of this.cursors) {
      if (cursor.closed || !cursor.iterator) continue;
      const page = await this.read(shardId, cursor);
      const records = (page.Records ?? []).map(toLambdaRecord);
      cursor.iterator = page.NextShardIterator;
      if (!page.NextShardIterator) cursor.closed = true;
      if (records.length === 0) continue;
      const { batchItemFailures } = await this.handler(records);
      const failed = batchItemFailures[0]?.itemIdentifier;
      if (failed && ++cursor.attempts < (this.options.maxAttempts ?? 5)) {
        cursor.closed = false;
        cursor.iterator = await this.iterator(shardId, {
          type: 'AT_SEQUENCE_NUMBER',
          sequence: failed,
        });
        delivered += records.findIndex((r) => r.dynamodb?.SequenceNumber === failed);
        continue;
      }
      if (failed) this.options.onDiscard?.(records);
      cursor.attempts = 0;
      cursor.lastSequence = records.at(-1)?.dynamodb?.SequenceNumber;
      delivered += records.length;
    }
    return delivered;
  }

  /** Polls until a whole pass finds nothing new (or the poller is stopped). */
  async drain(): Promise<void> {
    while (!this.stopped && (await this.pollOnce()) > 0);
  }

  start(intervalMs = 200): void {
    const tick = async () => {
      try {
        await this.drain();
      } catch (error) {
        this.options.onError?.(error);
      } finally {
        if (this.timer) this.timer = setTimeout(tick, intervalMs);
      }
    };
    this.timer = setTimeout(tick, 0);
  }

  /**
   * Stops polling: a drain in progress ends with its current pass, so that nothing reads the
   * stream once this resolves (DynamoDB Local may be stopped next).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const timer = this.timer;
    this.timer = undefined;
    if (timer) clearTimeout(timer);
    await this.running;
    this.streams.destroy();
  }
}

/**
 * The SDK's DynamoDB Streams client turns an empty map `{ M: {} }` into `{}`; Lambda gets the
 * raw JSON, so restore it to look the same.
 */
type Attribute = { M?: Record<string, Attribute>; L?: Attribute[] } & Record<string, unknown>;

function restoreEmptyMaps(attribute: Attribute): Attribute {
  if (Object.keys(attribute).length === 0) return { M: {} };
  if (attribute.M) return { M: restoreImage(attribute.M) };
  if (attribute.L) return { L: attribute.L.map(restoreEmptyMaps) };
  return attribute;
}

const restoreImage = (image: Record<string, Attribute>): Record<string, Attribute> =>
  Object.fromEntries(Object.entries(image).map(([name, value]) => [name, restoreEmptyMaps(value)]));

function toLambdaRecord(record: _Record): DynamoDBRecord {
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: record.dynamodb?.Keys as never,
      NewImage:
        record.dynamodb?.NewImage &&
        (restoreImage(record.dynamodb.NewImage as Record<string, Attribute>) as never),
      SequenceNumber: record.dynamodb?.SequenceNumber,
      StreamViewType: record.dynamodb?.StreamViewType as never,
    },
  };
}
