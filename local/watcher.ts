import {
  lastLookOf,
  watchCluster,
  type LastLook,
  type WatchDeps,
  type WatchReport,
} from '#app/watch.ts';
import { summaryOf, type Notifier } from '#app/notifier.ts';

export interface LocalWatcherOptions {
  /** Seconds between the end of one round of looks and the start of the next. */
  seconds: number;
  deps: WatchDeps;
  /** The clusters to look at, read each round (a cluster registered meanwhile is watched). */
  clusters: () => Promise<string[]>;
  log: (line: string) => void;
  /** Called after every look, failed or not. */
  onLook?: (clusterId: string, look: LastLook) => void;
}

/**
 * `serve --watch-seconds N`: the WatchCluster Lambda's step (shared/app/watch.ts) on a timer
 * instead of a Scheduler schedule. Rounds never overlap: the next is timed from the end of the
 * last, as a slow read of a real cluster must not pile looks up behind it.
 */
export class LocalWatcher {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private readonly looks = new Map<string, LastLook>();
  /** The last error logged per cluster: a failing look is logged when its error changes. */
  private readonly errors = new Map<string, string>();

  constructor(private readonly options: LocalWatcherOptions) {}

  start(): void {
    this.schedule(0);
  }

  lastLook(clusterId: string): LastLook | undefined {
    return this.looks.get(clusterId);
  }

  /** Stops the timer and waits for a round in flight (a look's append or start completes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.lookAtAll().finally(() => this.schedule(this.options.seconds * 1000));
    }, ms);
  }

  private async lookAtAll(): Promise<void> {
    let clusters: string[];
    try {
      clusters = await this.options.clusters();
    } catch (error) {
      this.failed('*', error);
      return;
    }
    for (const clusterId of clusters) {
      if (this.stopped) return;
      await this.lookAt(clusterId);
    }
  }

  private async lookAt(clusterId: string): Promise<void> {
    try {
      const report = await watchCluster(this.options.deps, clusterId);
      if (this.errors.delete(clusterId)) this.log(clusterId, 'looks again');
      this.seen(clusterId, lastLookOf(report));
      const said = reportLine(report);
      if (said) this.log(clusterId, said);
    } catch (error) {
      this.failed(clusterId, error);
    }
  }

  private failed(clusterId: string, error: unknown): void {
    const message = `${(error as Error).name}: ${(error as Error).message}`;
    if (this.errors.get(clusterId) !== message) this.log(clusterId, `look failed: ${message}`);
    this.errors.set(clusterId, message);
    if (clusterId === '*') return;
    const last = this.looks.get(clusterId);
    this.seen(clusterId, {
      at: new Date().toISOString(),
      whole: false,
      secondsSinceWhole: last?.secondsSinceWhole ?? null,
      action: 'failed',
      error: message,
    });
  }

  private seen(clusterId: string, look: LastLook): void {
    this.looks.set(clusterId, look);
    this.options.onLook?.(clusterId, look);
  }

  private log(clusterId: string, line: string): void {
    this.options.log(
      `watcher: ${clusterId === '*' ? 'clusters' : `cluster ${clusterId}`}: ${line}`,
    );
  }
}

/** What a look did, in one line; nothing for a look that recorded and started nothing. */
function reportLine(report: WatchReport): string | undefined {
  const c = report.counts;
  const saw = `${c.segmentsDown} down, ${c.pairsNotInSync} not in sync, ${c.contentsSwitched} switched, ${c.doubleFaults} double faults`;
  if (report.started) return `${saw}; started incident ${report.started.incidentId}`;
  if (report.outcome === 'busy') return `${saw}; a run took the cluster meanwhile, started nothing`;
  if (report.recorded === 0) return undefined;
  return `${saw}; recorded ${report.recorded} events (${report.action})`;
}

/** Serve's notices: what SNS would carry, on serve's own output. */
export const loggingNotifier = (log: (line: string) => void): Notifier => ({
  notify: async (outcome) => log(`notice: ${summaryOf(outcome)}`),
});
