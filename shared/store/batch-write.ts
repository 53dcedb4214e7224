import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { WritesUnprocessed } from '#store/errors.ts';

/** One BatchWriteItem request: a put or a delete of one item. */
export type WriteRequest =
  | { PutRequest: { Item: Record<string, unknown> } }
  | { DeleteRequest: { Key: Record<string, unknown> } };

/** BatchWriteItem's limit per request. */
const BATCH_SIZE = 25;
/**
 * Batches in flight at once. One after another, a 16,385-row rebuild spent its time waiting on
 * 656 round trips; DynamoDB takes them in parallel (and the SDK's 50 sockets per client allow it).
 */
export const WRITE_CONCURRENCY = 16;
/** A batch's attempts while DynamoDB leaves some of its writes unprocessed (throttling). */
export const WRITE_ATTEMPTS = 8;
const BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Before attempt `attempt + 1`: exponential, with jitter so that the batches throttled together
 * do not come back together.
 */
const backoff = (attempt: number) =>
  Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

/**
 * Writes `requests` into `table` in batches of 25, WRITE_CONCURRENCY batches at a time, each
 * batch's unprocessed writes retried with backoff. Resolves when every write has landed; rejects
 * with WritesUnprocessed (or the request's error) once the batches in flight have settled, and
 * starts no batch after a failure. The writes land in no particular order: a write that must
 * follow them waits for this to resolve.
 */
export async function writeInBatches(
  doc: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  requests: readonly WriteRequest[],
  sleep: (ms: number) => Promise<void> = pause,
): Promise<void> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH_SIZE)
    batches.push(requests.slice(i, i + BATCH_SIZE));
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < batches.length) {
      let pending = batches[next++]!;
      for (let attempt = 1; ; attempt++) {
        const { UnprocessedItems } = await doc.send(
          new BatchWriteCommand({ RequestItems: { [table]: pending } }),
        );
        pending = (UnprocessedItems?.[table] ?? []) as WriteRequest[];
        if (pending.length === 0) break;
        if (attempt === WRITE_ATTEMPTS)
          throw new WritesUnprocessed(clusterId, table, pending.length, attempt);
        await sleep(backoff(attempt));
      }
    }
  };
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(WRITE_CONCURRENCY, batches.length) }, () =>
      worker().catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ),
  );
  const rejected = settled.find((s) => s.status === 'rejected');
  if (rejected) throw rejected.reason;
}
