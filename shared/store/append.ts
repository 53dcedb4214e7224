import { fold } from '#domain/evolve.ts';
import {
  causationSchema,
  clusterIdSchema,
  newEventSchema,
  type NewEvent,
  type RecordedEvent,
} from '#domain/events.ts';
import { partsProblem } from '#domain/parts.ts';
import { parseOrThrow } from '#domain/validation.ts';
import * as z from '#domain/zod.ts';
import { AppendRejected } from '#store/errors.ts';
import type { AppendOptions } from '#store/ports.ts';

/** Below DynamoDB's 400 KB per item, with room for attribute names. */
export const ITEM_BYTES = 350_000;
/**
 * One look at a cluster writes what changed in one append: at a 10,000-content cluster (20,000
 * segments) every pair can change in up to three ways at once (its mirror recovered, in sync,
 * its roles back), and the plan's parts and SegmentRecoveryStarted come on top.
 */
const MAX_EVENTS_PER_APPEND = 40_000;

const appendOptionsSchema = z.object({
  expectedSeq: z.int().check(z.minimum(0)),
  idempotencyKey: z.string().check(z.minLength(1), z.maxLength(512)),
  causation: z.optional(causationSchema),
  at: z.iso.datetime(),
});

export const itemSize = (item: unknown): number => Buffer.byteLength(JSON.stringify(item));

/**
 * The events of an append as they will be recorded (seq `expectedSeq + 1` on), or a
 * ValidationError / AppendRejected before anything is written. Every implementation of the
 * port refuses the same appends because they all ask this.
 */
export function recordedEvents(
  clusterId: string,
  events: readonly NewEvent[],
  options: AppendOptions,
): RecordedEvent[] {
  parseOrThrow(clusterIdSchema, clusterId, 'clusterId');
  const {
    expectedSeq,
    idempotencyKey,
    causation = {},
    at,
  } = parseOrThrow(appendOptionsSchema, options);
  if (!Array.isArray(events) || events.length === 0)
    throw new AppendRejected(`cluster ${clusterId}: nothing to append`);
  if (events.length > MAX_EVENTS_PER_APPEND)
    throw new AppendRejected(
      `cluster ${clusterId}: ${events.length} events in one append, at most ${MAX_EVENTS_PER_APPEND}`,
    );
  const parsed = events.map(
    (event, i) => parseOrThrow(newEventSchema, event, `events[${i}]`) as NewEvent,
  );
  const parts = partsProblem(parsed);
  if (parts) throw new AppendRejected(`cluster ${clusterId}: ${parts}`);
  if (options.state) {
    if (options.state.seq !== expectedSeq)
      throw new AppendRejected(
        `cluster ${clusterId}: state is at seq ${options.state.seq}, expected seq ${expectedSeq}`,
      );
    fold(parsed, options.state);
  }
  const items: RecordedEvent[] = parsed.map((event, i) => ({
    clusterId,
    seq: expectedSeq + 1 + i,
    at,
    idempotencyKey,
    causation,
    ...event,
  }));
  for (const item of items)
    if (itemSize(item) > ITEM_BYTES)
      throw new AppendRejected(
        `cluster ${clusterId}: event ${item.type} at seq ${item.seq} is larger than ${ITEM_BYTES} bytes; split it`,
      );
  return items;
}
