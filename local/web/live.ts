import type { ClusterOperations } from '#cluster/port.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import type { TaskObserver } from '#local/workflow-runner.ts';

/** One segment being copied by gprecoverseg, as its progress line says. */
export interface SegmentCopy {
  dbid: number;
  type: string;
  completedKb: number;
  totalKb: number;
  percent: number;
}

/** One pair's WAL catch-up: what is left, and the most it was behind in this incident (the bar's 0%). */
export interface PairCatchUp {
  content: number;
  primaryDbid: number;
  walSender: string | null;
  walRemainingBytes: number | null;
  mostBehindBytes: number;
}

/**
 * What the event log does not hold but a DBA watches during an incident: the per-segment
 * progress of the running gprecoverseg and the WAL each mirror still has to receive. The log
 * records that a segment started and that it came back; the bytes in between live only in
 * gprecoverseg's output and gp_stat_replication.
 */
export interface LiveProgress {
  clusterId: string;
  incidentId: string;
  /** Wall clock of the last update, ISO. */
  at: string;
  operation:
    { kind: 'recovery' | 'rebalance'; polls: number; percent: number; next: string } | undefined;
  copies: SegmentCopy[];
  catchUp: PairCatchUp[];
}

type ClusterOf = (clusterId: string) => ClusterOperations;

interface TaskPayload {
  input?: { clusterId?: string; incidentId?: string };
}

/**
 * Follows the local workflow (a TaskObserver) and keeps, per cluster, the live progress of the
 * recovery it runs. After each CheckRecovery it reads the operation's per-segment progress and
 * after each CheckSync gp_stat_replication, through the same cluster port the workflow polls:
 * one extra read per workflow poll, only while a recovery runs.
 */
export class LiveFeed implements TaskObserver {
  private readonly progress = new Map<string, LiveProgress>();
  private readonly listeners = new Set<(clusterId: string) => void>();
  private clusterOf: ClusterOf | undefined;

  /** The runtime's cluster backend; without it the feed keeps the workflow's own summaries. */
  attach(clusterOf: ClusterOf): void {
    this.clusterOf = clusterOf;
  }

  current(clusterId: string): LiveProgress | undefined {
    return this.progress.get(clusterId);
  }

  /** Calls `listener(clusterId)` after every change; returns the unsubscribe function. */
  subscribe(listener: (clusterId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async onTaskSucceeded(task: WorkflowTask, payload: unknown, output: unknown): Promise<void> {
    const { clusterId, incidentId } = (payload as TaskPayload).input ?? {};
    if (!clusterId || !incidentId) return;
    if (task === 'StartRecovery') return this.set(clusterId, fresh(clusterId, incidentId));
    const entry = this.progress.get(clusterId) ?? fresh(clusterId, incidentId);
    if (entry.incidentId !== incidentId) return;
    if (task === 'CheckRecovery') {
      const o = output as { operationId: string; kind: 'recovery' | 'rebalance' } & Omit<
        NonNullable<LiveProgress['operation']>,
        'kind'
      >;
      entry.operation = { kind: o.kind, polls: o.polls, percent: o.percent, next: o.next };
      const status = await this.read(clusterId, (c) =>
        c.pollOperation({ operationId: o.operationId, kind: o.kind }),
      );
      if (status) entry.copies = status.progress.map((p) => ({ ...p }));
    }
    if (task === 'CheckSync') {
      const replication = await this.read(clusterId, (c) => c.readReplication());
      if (replication)
        entry.catchUp = replication.map((r) => {
          const before = entry.catchUp.find((p) => p.content === r.content);
          return {
            content: r.content,
            primaryDbid: r.primaryDbid,
            walSender: r.state ?? null,
            walRemainingBytes: r.walRemainingBytes ?? null,
            mostBehindBytes: Math.max(before?.mostBehindBytes ?? 0, r.walRemainingBytes ?? 0),
          };
        });
    }
    this.set(clusterId, entry);
  }

  private async read<T>(
    clusterId: string,
    how: (cluster: ClusterOperations) => Promise<T>,
  ): Promise<T | undefined> {
    if (!this.clusterOf) return undefined;
    try {
      return await how(this.clusterOf(clusterId));
    } catch {
      // A failed extra read costs the page one refresh of its bars, never the workflow a step.
      return undefined;
    }
  }

  private set(clusterId: string, entry: LiveProgress): void {
    entry.at = new Date().toISOString();
    this.progress.set(clusterId, entry);
    for (const listener of this.listeners) listener(clusterId);
  }
}

const fresh = (clusterId: string, incidentId: string): LiveProgress => ({
  clusterId,
  incidentId,
  at: new Date().toISOString(),
  operation: undefined,
  copies: [],
  catchUp: [],
});
