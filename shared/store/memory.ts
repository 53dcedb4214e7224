import { emptyState, fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent, RecordedEvent } from '#domain/events.ts';
import { recordedEvents } from '#store/append.ts';
import {
  clusterSummaryOf,
  projectedOf,
  rowItem,
  summaryItem,
  SUMMARY_DBID,
  type ConfigurationItem,
} from '#store/configuration-items.ts';
import { ClusterLocked, ConcurrencyError } from '#store/errors.ts';
import type { StandbyConfirmation } from '#domain/coordinator.ts';
import type {
  StandbyConfirmationPort,
  AppendOptions,
  AppendResult,
  ClusterLockPort,
  ClusterSummary,
  EventStorePort,
  LockInfo,
  ProjectedConfiguration,
  ProjectionStorePort,
  SeqRange,
  StorePorts,
} from '#store/ports.ts';
import { Projector } from '#store/projector.ts';

/**
 * The store port in one process's memory, with DynamoDB's semantics: the same refusals, the
 * same optimistic concurrency on seq and idempotency per key, the same monotonic projection
 * and the same lock with expiry. Every change is checked and applied without an `await` in
 * between, which is what makes it atomic here. Values go in and come out as copies (JSON,
 * like DynamoDB's removal of undefined attributes), so no caller shares an object with the
 * store.
 */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export class MemoryEventStore implements EventStorePort {
  private readonly streams = new Map<string, RecordedEvent[]>();
  /** Idempotency keys per cluster, as DynamoDB keeps them under `idem#<cluster>`. */
  private readonly appends = new Map<string, Map<string, AppendResult>>();

  async append(
    clusterId: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const items = recordedEvents(clusterId, events, options);
    const keys = this.appends.get(clusterId) ?? new Map<string, AppendResult>();
    const existing = keys.get(options.idempotencyKey);
    if (existing) return { ...existing, duplicate: true };
    const log = this.streams.get(clusterId) ?? [];
    if (log.length !== options.expectedSeq)
      throw new ConcurrencyError(clusterId, options.expectedSeq, `the log is at seq ${log.length}`);
    log.push(...copy(items));
    this.streams.set(clusterId, log);
    const result = { firstSeq: items[0]!.seq, lastSeq: items.at(-1)!.seq, duplicate: false };
    keys.set(options.idempotencyKey, result);
    this.appends.set(clusterId, keys);
    return { ...result };
  }

  async readHead(clusterId: string): Promise<{ lastSeq: number }> {
    return { lastSeq: this.streams.get(clusterId)?.length ?? 0 };
  }

  async *readPages(clusterId: string, range: SeqRange = {}): AsyncGenerator<RecordedEvent[]> {
    const page = await this.read(clusterId, range);
    if (page.length > 0) yield page;
  }

  async read(clusterId: string, range: SeqRange = {}): Promise<RecordedEvent[]> {
    const log = this.streams.get(clusterId) ?? [];
    return copy(log.slice(range.afterSeq ?? 0, range.toSeq ?? log.length));
  }

  async loadState(clusterId: string, options: { toSeq?: number } = {}): Promise<ClusterState> {
    return fold(await this.read(clusterId, { toSeq: options.toSeq }), emptyState());
  }

  async clusterIds(): Promise<string[]> {
    return [...this.streams]
      .filter(([, log]) => log.length > 0)
      .map(([id]) => id)
      .sort();
  }
}

export class MemoryProjectionStore implements ProjectionStorePort {
  /** Per cluster, the Configuration items by dbid (the summary at dbid 0). */
  private readonly items = new Map<string, Map<number, ConfigurationItem>>();

  private cluster(clusterId: string): Map<number, ConfigurationItem> {
    const items = this.items.get(clusterId) ?? new Map<number, ConfigurationItem>();
    this.items.set(clusterId, items);
    return items;
  }

  async read(clusterId: string): Promise<ProjectedConfiguration> {
    return projectedOf(copy([...(this.items.get(clusterId)?.values() ?? [])]));
  }

  async write(clusterId: string, previous: ClusterState, next: ClusterState): Promise<boolean> {
    const items = this.cluster(clusterId);
    for (const row of next.segments.values()) {
      if (previous.segments.get(row.dbid) === row) continue;
      const stored = items.get(row.dbid);
      if (stored === undefined || (stored.projectedSeq as number) <= next.seq)
        items.set(row.dbid, copy(rowItem(clusterId, row, next.seq)));
    }
    for (const dbid of previous.segments.keys()) {
      const stored = items.get(dbid);
      if (!next.segments.has(dbid) && (stored?.projectedSeq as number) <= next.seq)
        items.delete(dbid);
    }
    const summary = items.get(SUMMARY_DBID);
    const current = summary?.lastSeq as number | undefined;
    const ours =
      previous.seq === 0 ? current === undefined || current < next.seq : current === previous.seq;
    if (ours) items.set(SUMMARY_DBID, copy(summaryItem(clusterId, next)));
    return ours;
  }

  async replace(clusterId: string, state: ClusterState): Promise<void> {
    const items = this.cluster(clusterId);
    for (const dbid of items.keys())
      if (dbid !== SUMMARY_DBID && !state.segments.has(dbid)) items.delete(dbid);
    for (const row of state.segments.values())
      items.set(row.dbid, copy(rowItem(clusterId, row, state.seq)));
    items.set(SUMMARY_DBID, copy(summaryItem(clusterId, state)));
  }

  async list(): Promise<ClusterSummary[]> {
    return [...this.items.values()].flatMap((items) => {
      const summary = items.get(SUMMARY_DBID);
      return summary ? [clusterSummaryOf(copy(summary))] : [];
    });
  }
}

export class MemoryClusterLock implements ClusterLockPort {
  private readonly locks = new Map<string, LockInfo>();

  async acquire(
    clusterId: string,
    holder: string,
    incidentId: string,
    nowSeconds: number,
    ttlSeconds: number,
  ): Promise<LockInfo> {
    const current = this.locks.get(clusterId);
    if (current && current.holder !== holder && current.expiresAt >= nowSeconds)
      throw new ClusterLocked(clusterId, current.holder, current.expiresAt);
    const info: LockInfo = {
      holder,
      incidentId,
      acquiredAt: nowSeconds,
      expiresAt: nowSeconds + ttlSeconds,
    };
    this.locks.set(clusterId, info);
    return { ...info };
  }

  async release(clusterId: string, holder: string): Promise<boolean> {
    if (this.locks.get(clusterId)?.holder !== holder) return false;
    this.locks.delete(clusterId);
    return true;
  }

  async read(clusterId: string): Promise<LockInfo | undefined> {
    const info = this.locks.get(clusterId);
    return info && { ...info };
  }
}

export class MemoryStandbyConfirmation implements StandbyConfirmationPort {
  private readonly kept = new Map<string, StandbyConfirmation>();

  async confirm(clusterId: string, confirmation: StandbyConfirmation): Promise<void> {
    const current = this.kept.get(clusterId);
    if (!current || current.at < confirmation.at) this.kept.set(clusterId, { ...confirmation });
  }

  async read(clusterId: string): Promise<StandbyConfirmation | undefined> {
    const kept = this.kept.get(clusterId);
    return kept && { ...kept };
  }
}

export function createMemoryStores(): StorePorts {
  const events = new MemoryEventStore();
  const projection = new MemoryProjectionStore();
  return {
    events,
    projection,
    projector: new Projector(events, projection),
    lock: new MemoryClusterLock(),
    standby: new MemoryStandbyConfirmation(),
  };
}
