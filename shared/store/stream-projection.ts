import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { recordedEventSchema, type RecordedEvent } from '#domain/events.ts';
import type { ProjectorPort } from '#store/ports.ts';
import { recordedEventOf } from '#store/event-store.ts';

/**
 * Projects the event log's stream records, cluster by cluster. Records of the head item
 * (seq 0) carry no event but mean "a batch committed", so they, too, make the cluster catch
 * up. A cluster that fails reports its first record, so the stream retries from there.
 */
export async function projectStreamRecords(
  records: readonly DynamoDBRecord[],
  projector: ProjectorPort,
  onError: (clusterId: string, error: unknown) => void = () => {},
): Promise<DynamoDBBatchResponse> {
  const byCluster = new Map<string, { first: string; events: RecordedEvent[] }>();
  for (const record of records) {
    const image = record.dynamodb?.NewImage ?? record.dynamodb?.Keys;
    if (!image) continue;
    const item = unmarshall(image as Record<string, AttributeValue>);
    const clusterId = item.clusterId;
    if (typeof clusterId !== 'string') continue;
    const entry = byCluster.get(clusterId) ?? {
      first: record.dynamodb?.SequenceNumber ?? '',
      events: [],
    };
    // An image that is not a valid event is not applied from the stream: the projector then
    // sees a gap and reads the log, where a bad item fails the batch instead of slipping in.
    const event = recordedEventSchema.safeParse(recordedEventOf(item));
    if (record.eventName !== 'REMOVE' && event.success)
      entry.events.push(event.data as RecordedEvent);
    byCluster.set(clusterId, entry);
  }
  const failures: string[] = [];
  for (const [clusterId, { first, events }] of byCluster) {
    try {
      await projector.project(clusterId, events);
    } catch (error) {
      onError(clusterId, error);
      failures.push(first);
    }
  }
  // Lambda retries from the lowest failed sequence number; report that one only.
  const lowest = failures.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))[0];
  return { batchItemFailures: lowest === undefined ? [] : [{ itemIdentifier: lowest }] };
}
