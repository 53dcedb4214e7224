import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type BatchWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fold } from '#domain/evolve.ts';
import { registrationEvents } from '#domain/registration.ts';
import {
  WRITE_ATTEMPTS,
  WRITE_CONCURRENCY,
  writeInBatches,
  type WriteRequest,
} from '#store/batch-write.ts';
import { WritesUnprocessed } from '#store/errors.ts';
import { ProjectionStore } from '#store/projection-store.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';

// One client's instance mocked, not the class: the unit files share their worker's modules.
const doc = DynamoDBDocumentClient.from(
  new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
  }),
);
const ddb = mockClient(doc);
afterEach(() => ddb.reset());
afterAll(() => ddb.restore());

const TABLE = 'configuration';
const puts = (n: number): WriteRequest[] =>
  Array.from({ length: n }, (_, dbid) => ({ PutRequest: { Item: { clusterId: 'c', dbid } } }));
const dbidsOf = (input: BatchWriteCommandInput, table = TABLE) =>
  input.RequestItems![table]!.map((r) =>
    r.PutRequest ? (r.PutRequest.Item!.dbid as number) : (r.DeleteRequest!.Key!.dbid as number),
  );
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
const aMoment = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('writeInBatches', () => {
  it('writes every request once, in batches of 25, WRITE_CONCURRENCY batches at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const sizes: number[] = [];
    const written: number[] = [];
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      most = Math.max(most, ++inFlight);
      await aMoment();
      inFlight--;
      sizes.push(input.RequestItems![TABLE]!.length);
      written.push(...dbidsOf(input));
      return {};
    });
    await writeInBatches(doc, TABLE, 'c', puts(1010));
    expect(sorted(written)).toEqual(upTo(1010));
    expect(sorted(sizes)).toEqual([10, ...Array<number>(40).fill(25)]);
    expect(most).toBe(WRITE_CONCURRENCY);
  });

  it('retries the writes DynamoDB left unprocessed, backing off longer each time', async () => {
    const written: number[] = [];
    let calls = 0;
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      const batch = input.RequestItems![TABLE]!;
      // Throttled three times: one write of the batch lands each time, the others come back.
      const throttled = ++calls <= 3;
      written.push(
        ...dbidsOf({ RequestItems: { [TABLE]: throttled ? batch.slice(0, 1) : batch } }),
      );
      return { UnprocessedItems: throttled ? { [TABLE]: batch.slice(1) } : {} };
    });
    const pauses: number[] = [];
    await writeInBatches(doc, TABLE, 'c', puts(20), async (ms) => {
      pauses.push(ms);
    });
    expect(sorted(written)).toEqual(upTo(20));
    expect(calls).toBe(4);
    expect(pauses).toHaveLength(3);
    expect(pauses[1]).toBeGreaterThanOrEqual(pauses[0]!);
    expect(pauses[2]).toBeGreaterThanOrEqual(pauses[1]!);
  });

  it('gives up on a batch still unprocessed after WRITE_ATTEMPTS, and starts no batch after', async () => {
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      // The first batch is throttled for good; the others take a moment, so it fails first.
      if (dbidsOf(input)[0] === 0) return { UnprocessedItems: input.RequestItems };
      await aMoment();
      return {};
    });
    const error: unknown = await writeInBatches(
      doc,
      TABLE,
      'c-7',
      puts(25 * 40),
      async () => {},
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WritesUnprocessed);
    expect((error as Error).message).toContain(
      `cluster c-7: 25 writes to ${TABLE} were still unprocessed after ${WRITE_ATTEMPTS} BatchWriteItem attempts`,
    );
    // The failed batch's attempts and the other batches in flight with it; none of the 24 after.
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(
      WRITE_ATTEMPTS + WRITE_CONCURRENCY - 1,
    );
  });
});

describe('ProjectionStore.replace', () => {
  const tables = { eventLog: 'events', configuration: TABLE, control: 'control' };
  // 1,025 rows.
  const state = fold(registrationEvents(groupMirroredCluster(16, 32)));

  it('deletes the rows the state lacks, puts its rows, and the summary only once all landed', async () => {
    // Stored: the summary, a row the state has and one it no longer has.
    ddb.on(QueryCommand).resolves({ Items: [{ dbid: 0 }, { dbid: 1 }, { dbid: 5000 }] });
    const put = new Set<number>();
    const deleted: number[] = [];
    ddb.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      await aMoment();
      for (const request of input.RequestItems![TABLE]!)
        if (request.PutRequest) put.add(request.PutRequest.Item!.dbid as number);
        else deleted.push(request.DeleteRequest!.Key!.dbid as number);
      return {};
    });
    let putAtSummary = -1;
    ddb.on(PutCommand).callsFake(async () => {
      putAtSummary = put.size;
      return {};
    });
    await new ProjectionStore(doc, tables).replace('c', state);
    expect(deleted).toEqual([5000]);
    expect(sorted([...put])).toEqual(sorted([...state.segments.keys()]));
    expect(putAtSummary).toBe(state.segments.size);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({
      clusterId: 'c',
      dbid: 0,
      lastSeq: state.seq,
    });
  });

  it('writes no summary when a batch of rows fails', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb
      .on(BatchWriteCommand)
      .rejectsOnce(
        new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} }),
      )
      .resolves({});
    await expect(new ProjectionStore(doc, tables).replace('c', state)).rejects.toThrow(
      ProvisionedThroughputExceededException,
    );
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
