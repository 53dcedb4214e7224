import { fold, type ClusterState } from '#domain/evolve.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type {
  EventStorePort,
  ProjectionResult,
  ProjectionStorePort,
  ProjectorPort,
} from '#store/ports.ts';

/**
 * Applies a cluster's events to the Configuration table in order and idempotently. Delivered
 * events (from the stream) are used when they follow the projection without a gap and are
 * committed; otherwise the missing range is read from the log. Either way the result is the
 * fold of the log.
 */
export class Projector implements ProjectorPort {
  constructor(
    private readonly events: EventStorePort,
    private readonly projection: ProjectionStorePort,
  ) {}

  async project(
    clusterId: string,
    delivered: readonly RecordedEvent[] = [],
  ): Promise<ProjectionResult> {
    const { state: current } = await this.projection.read(clusterId);
    const committed = (await this.events.readHead(clusterId)).lastSeq;
    const fresh = delivered
      .filter((e) => e.clusterId === clusterId && e.seq > current.seq && e.seq <= committed)
      .sort((a, b) => a.seq - b.seq);
    const contiguous = fresh.every((e, i) => e.seq === current.seq + 1 + i);
    const covers = (fresh.at(-1)?.seq ?? current.seq) === committed;
    let next: ClusterState;
    let readFromLog = false;
    if (contiguous && covers) {
      next = fold(fresh, current);
    } else {
      readFromLog = true;
      next = current;
      for await (const page of this.events.readPages(clusterId, {
        afterSeq: current.seq,
        toSeq: committed,
      }))
        next = fold(page, next);
    }
    if (next.seq > current.seq) await this.projection.write(clusterId, current, next);
    return { clusterId, fromSeq: current.seq, toSeq: next.seq, readFromLog };
  }

  /** Folds the whole log from seq 1 (no snapshot) and replaces the projection with it. */
  async rebuild(clusterId: string): Promise<ClusterState> {
    // One fold over every page: a fold per page copied the whole state (16,385 rows) per page of
    // 1,000 events, about 3x the fold itself on the largest bench log.
    const events: RecordedEvent[] = [];
    for await (const page of this.events.readPages(clusterId)) for (const e of page) events.push(e);
    if (events.length === 0) return (await this.projection.read(clusterId)).state;
    const state = fold(events);
    await this.projection.replace(clusterId, state);
    return state;
  }
}
