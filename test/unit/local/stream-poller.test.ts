import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { LocalStreamPoller } from '#local/stream-poller.ts';

const dynamo = mockClient(DynamoDBClient);
const streams = mockClient(DynamoDBStreamsClient);
// The worker's other files share the SDK: leave its clients unmocked.
afterAll(() => {
  dynamo.restore();
  streams.restore();
});
afterEach(() => {
  dynamo.reset();
  streams.reset();
});

const record = (seq: string) => ({
  eventID: seq,
  eventName: 'INSERT' as const,
  dynamodb: {
    SequenceNumber: seq,
    Keys: { seq: { N: seq } },
    StreamViewType: 'NEW_IMAGE' as const,
  },
});

/** One shard whose reads fail once with `failure`, then deliver records 1 and 2 from `iterator`. */
function oneShard(failure: Error) {
  dynamo.on(DescribeTableCommand).resolves({ Table: { LatestStreamArn: 'arn:stream' } });
  streams
    .on(DescribeStreamCommand)
    .resolves({ StreamDescription: { Shards: [{ ShardId: 's1' }] } });
  streams
    .on(GetShardIteratorCommand, { ShardIteratorType: 'TRIM_HORIZON' })
    .resolvesOnce({ ShardIterator: 'first' })
    .resolves({ ShardIterator: 'oldest-again' });
  streams
    .on(GetShardIteratorCommand, { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' })
    .resolves({ ShardIterator: 'after-last' });
  streams.on(GetRecordsCommand, { ShardIterator: 'first' }).rejects(failure);
  for (const iterator of ['oldest-again', 'after-last'])
    streams
      .on(GetRecordsCommand, { ShardIterator: iterator })
      .resolves({ Records: [record('1'), record('2')], NextShardIterator: 'end' });
  streams
    .on(GetRecordsCommand, { ShardIterator: 'end' })
    .resolves({ Records: [], NextShardIterator: 'end' });
}

function poller() {
  const handed: string[] = [];
  const p = new LocalStreamPoller(
    new DynamoDBClient({ region: 'us-east-1' }),
    'EventLog',
    async (records: DynamoDBRecord[]) => {
      handed.push(...records.map((r) => r.dynamodb!.SequenceNumber!));
      return { batchItemFailures: [] };
    },
  );
  return { p, handed };
}

describe('LocalStreamPoller', () => {
  it('reads again from the oldest record when its iterator points before it (TrimmedDataAccessException)', async () => {
    oneShard(
      new TrimmedDataAccessException({
        message: 'read past the oldest stream record',
        $metadata: {},
      }),
    );
    const { p, handed } = poller();
    await p.drain();
    expect(handed).toEqual(['1', '2']);
    await p.stop();
  });

  it('fails on an expired iterator before any record was handed over: nothing to resume after', async () => {
    oneShard(new ExpiredIteratorException({ message: 'expired', $metadata: {} }));
    const { p, handed } = poller();
    await expect(p.drain()).rejects.toThrow(ExpiredIteratorException);
    expect(handed).toEqual([]);
    await p.stop();
  });

  it('resumes after the last record handed over when its iterator expired', async () => {
    oneShard(new Error('unused'));
    streams.on(GetRecordsCommand, { ShardIterator: 'first' }).resolves({
      Records: [record('1')],
      NextShardIterator: 'stale',
    });
    streams
      .on(GetRecordsCommand, { ShardIterator: 'stale' })
      .rejects(new ExpiredIteratorException({ message: 'expired', $metadata: {} }));
    streams
      .on(GetRecordsCommand, { ShardIterator: 'after-last' })
      .resolves({ Records: [record('2')], NextShardIterator: 'end' });
    const { p, handed } = poller();
    await p.drain();
    expect(handed).toEqual(['1', '2']);
    expect(
      streams.commandCalls(GetShardIteratorCommand, {
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        SequenceNumber: '1',
      }),
    ).toHaveLength(1);
    await p.stop();
  });

  it('passes on any other error', async () => {
    oneShard(new Error('connection refused'));
    const { p } = poller();
    await expect(p.drain()).rejects.toThrow('connection refused');
    await p.stop();
  });

  it('reads nothing once stopped, even in the middle of a drain that keeps finding records', async () => {
    dynamo.on(DescribeTableCommand).resolves({ Table: { LatestStreamArn: 'arn:stream' } });
    streams
      .on(DescribeStreamCommand)
      .resolves({ StreamDescription: { Shards: [{ ShardId: 's1' }] } });
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'busy' });
    let n = 0;
    // A record on every read, each a turn of the event loop away, as over a socket.
    streams.on(GetRecordsCommand).callsFake(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return { Records: [record(String(++n))], NextShardIterator: 'busy' };
    });
    const { p, handed } = poller();
    p.start();
    while (handed.length < 3) await new Promise((resolve) => setImmediate(resolve));
    await p.stop();
    const reads = streams.commandCalls(GetRecordsCommand).length;
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(reads);
  });
});
