import type { NewEvent, RecordedEvent } from '#domain/events.ts';

/** Events that fold forever on `groupCluster`: a mirror goes down, is recovered, resynchronizes. */
export function churn(contents: number, count: number): NewEvent[] {
  const events: NewEvent[] = [];
  for (let i = 0; events.length < count; i++) {
    const content = i % contents;
    const dbid = 2 + contents + content;
    events.push(
      { type: 'SegmentMarkedDown', data: { dbid } },
      { type: 'SegmentRecovered', data: { dbid } },
      { type: 'PairSynchronized', data: { content } },
    );
  }
  return events.slice(0, count);
}

/** The items the event store would write for `events`, for raw writes beside it. */
export const recorded = (
  clusterId: string,
  events: NewEvent[],
  firstSeq: number,
  at: string,
): RecordedEvent[] =>
  events.map((e, i) => ({
    clusterId,
    seq: firstSeq + i,
    at,
    idempotencyKey: `bench-${Math.floor((firstSeq + i) / 98)}`,
    causation: { actor: 'bench' },
    ...e,
  }));
