import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { registrationEvents } from '#domain/registration.ts';
import { EventStore } from '#store/event-store.ts';
import { log, met, round, time, type BenchContext, type Figures } from './context.ts';
import { churn, recorded } from './events.ts';

/** Appends through the event store against the same items written raw, on DynamoDB Local. */
export async function append(context: BenchContext): Promise<Figures> {
  const { doc, fresh } = await context.dynamodb();
  const tables = await fresh('append');
  const store = new EventStore(doc, tables);
  const batches = context.quick ? 10 : 60;
  const singles = context.quick ? 150 : 1000;
  const at = new Date().toISOString();
  const batch = churn(8, 98);
  const segments = groupMirroredCluster(2, 4);
  await store.append('batched', registrationEvents(segments), {
    expectedSeq: 0,
    idempotencyKey: 'r',
    at,
  });
  const stored = await time(async () => {
    for (let i = 0; i < batches; i++)
      await store.append('batched', batch, {
        expectedSeq: 1 + i * 98,
        idempotencyKey: `b${i}`,
        at,
      });
  });
  const raw = await time(async () => {
    for (let i = 0; i < batches; i++)
      await doc.send(
        new TransactWriteCommand({
          TransactItems: recorded('raw-batched', batch, 2 + i * 98, at).map((Item) => ({
            Put: {
              TableName: tables.eventLog,
              Item,
              ConditionExpression: 'attribute_not_exists(seq)',
            },
          })),
        }),
      );
  });
  await store.append('single', registrationEvents(segments), {
    expectedSeq: 0,
    idempotencyKey: 'r',
    at,
  });
  const one = churn(8, singles);
  const storedSingle = await time(async () => {
    for (let i = 0; i < singles; i++)
      await store.append('single', [one[i]!], {
        expectedSeq: 1 + i,
        idempotencyKey: `s${i}`,
        at,
      });
  });
  const rawSingle = await time(async () => {
    for (let i = 0; i < singles; i++)
      await doc.send(
        new PutCommand({
          TableName: tables.eventLog,
          Item: recorded('raw-single', [one[i]!], 2 + i, at)[0],
          ConditionExpression: 'attribute_not_exists(seq)',
        }),
      );
  });
  const storeEventsPerSecond = (batches * 98) / (stored.ms / 1000);
  const rawItemsPerSecond = (batches * 98) / (raw.ms / 1000);
  const singleAppendsPerSecond = singles / (storedSingle.ms / 1000);
  const rawPutsPerSecond = singles / (rawSingle.ms / 1000);
  const figures = {
    batchedEventsPerSecond: round(storeEventsPerSecond),
    batchedAppendsPerSecond: round(batches / (stored.ms / 1000), 1),
    rawTransactWriteItemsPerSecond: round(rawItemsPerSecond),
    rawTransactionsPerSecond: round(batches / (raw.ms / 1000), 1),
    ratio: round(storeEventsPerSecond / rawItemsPerSecond, 2),
    singleEventAppendsPerSecond: round(singleAppendsPerSecond),
    rawPutItemPerSecond: round(rawPutsPerSecond),
    singleRatio: round(singleAppendsPerSecond / rawPutsPerSecond, 2),
    method: `${batches} sequential EventStore.append calls of 98 events each (one transaction: head update, 98 conditional puts, idempotency key; plus the idempotency and head reads) vs ${batches} raw TransactWriteItems of the same 98 items; and ${singles} single-event appends vs ${singles} raw conditional PutItem`,
  };
  log(`append: ${JSON.stringify(figures)}`);
  return {
    ...figures,
    readme: [
      {
        figure: 'Append, batches of 98 events (DynamoDB Local)',
        value: `${figures.batchedEventsPerSecond} events/s, ${figures.ratio} of raw TransactWriteItems`,
        target: `>= 0.8: ${met(figures.ratio >= 0.8)}`,
      },
      {
        figure: 'Append, one event (DynamoDB Local)',
        value: `${figures.singleEventAppendsPerSecond}/s, ${figures.singleRatio} of raw PutItem`,
      },
    ],
  };
}
