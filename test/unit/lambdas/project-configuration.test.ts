import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { context, lambdaEnvironment, logItems, seedRegistration, TABLES } from './support.ts';

const ddb = mockClient(DynamoDBDocumentClient);

type Handler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;
let handler: Handler;
let logError: MockInstance;

beforeAll(async () => {
  lambdaEnvironment();
  handler = ((await import('#lambdas/project-configuration.ts')) as { handler: Handler }).handler;
  const { logger } = await import('#lambdas/common/powertools.ts');
  logError = vi.spyOn(logger, 'error');
});

const record = (item: Record<string, unknown>, sequenceNumber: string): DynamoDBRecord => ({
  eventName: 'INSERT',
  eventSource: 'aws:dynamodb',
  dynamodb: {
    Keys: marshall(
      { clusterId: item.clusterId, seq: item.seq },
      { removeUndefinedValues: true },
    ) as Record<string, never>,
    NewImage: marshall(item, { removeUndefinedValues: true }) as Record<
      string,
      AttributeValue
    > as Record<string, never>,
    SequenceNumber: sequenceNumber,
    StreamViewType: 'NEW_IMAGE',
  },
});

/** A cluster whose log holds its registration (seq 1) and which was never projected. */
function registered(clusterId: string) {
  ddb
    .on(GetCommand, { TableName: TABLES.eventLog, Key: { clusterId, seq: 0 } })
    .resolves({ Item: { clusterId, seq: 0, lastSeq: 1 } });
  ddb
    .on(QueryCommand, {
      TableName: TABLES.configuration,
      ExpressionAttributeValues: { ':c': clusterId },
    })
    .resolves({ Items: [] });
}

beforeEach(() => {
  ddb.reset();
  logError.mockClear();
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(PutCommand).resolves({});
});

describe('the projector Lambda on the event log stream', () => {
  it('projects the delivered events into the Configuration table and reports no failure', async () => {
    registered('seed');
    const [registration] = logItems('seed', seedRegistration());
    expect(await handler({ Records: [record(registration!, '100')] }, context())).toEqual({
      batchItemFailures: [],
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLES.configuration,
      Item: expect.objectContaining({ clusterId: 'seed', dbid: 0, lastSeq: 1 }),
    });
    const rows = ddb
      .commandCalls(TransactWriteCommand)
      .flatMap((c) => c.args[0].input.TransactItems!.map((t) => t.Put!.Item!.dbid));
    expect(rows.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('reports the first record of a failing cluster, logs it, and still projects the others', async () => {
    registered('good');
    ddb
      .on(QueryCommand, {
        TableName: TABLES.configuration,
        ExpressionAttributeValues: { ':c': 'bad' },
      })
      .rejects(
        Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }),
      );
    const [good] = logItems('good', seedRegistration());
    const [bad] = logItems('bad', seedRegistration());
    const response = await handler(
      { Records: [record(bad!, '200'), record(good!, '300'), record({ ...bad!, seq: 2 }, '400')] },
      context(),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '200' }] });
    expect(logError).toHaveBeenCalledWith(
      'projection failed; the stream will retry',
      expect.objectContaining({ clusterId: 'bad' }),
    );
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ clusterId: 'good', lastSeq: 1 }),
    });
  });

  it('reports only the lowest sequence number when several clusters fail, comparing them as numbers', async () => {
    ddb.on(QueryCommand).rejects(new Error('down'));
    const [a] = logItems('a', seedRegistration());
    const [b] = logItems('b', seedRegistration());
    const response = await handler({ Records: [record(a!, '1000'), record(b!, '999')] }, context());
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '999' }] });
  });

  it('ignores records without an image or a cluster, and an event without records', async () => {
    expect(
      await handler({ Records: [{ eventName: 'INSERT' }, record({ seq: 1 }, '5')] }, context()),
    ).toEqual({ batchItemFailures: [] });
    expect(await handler({} as DynamoDBStreamEvent, context())).toEqual({ batchItemFailures: [] });
    expect(ddb.calls()).toHaveLength(0);
  });
});
