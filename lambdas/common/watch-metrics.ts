import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { WatchReport } from '#app/watch.ts';

/**
 * What every look publishes, per ClusterId. The stack's alarms and dashboard name the metrics
 * from this list, so both sides stay in step.
 */
export const WATCH_METRICS = [
  { name: 'SegmentsDown', label: 'segments down', unit: MetricUnit.Count },
  { name: 'PairsNotInSync', label: 'pairs not in sync', unit: MetricUnit.Count },
  { name: 'ContentsSwitched', label: 'contents with roles switched', unit: MetricUnit.Count },
  { name: 'DoubleFaults', label: 'double faults', unit: MetricUnit.Count },
  { name: 'SecondsSinceWhole', label: 'seconds since whole', unit: MetricUnit.Seconds },
] as const;

/** 0 after every look that ended, 1 after one that failed: its absence means no look ran. */
export const WATCHER_ERRORS = 'WatcherErrors';

type WatchMetric = (typeof WATCH_METRICS)[number]['name'];

const VALUES: Record<WatchMetric, (report: WatchReport) => number | undefined> = {
  SegmentsDown: (r) => r.counts.segmentsDown,
  PairsNotInSync: (r) => r.counts.pairsNotInSync,
  ContentsSwitched: (r) => r.counts.contentsSwitched,
  DoubleFaults: (r) => r.counts.doubleFaults,
  // Unknown until a look has seen the cluster whole once: no datapoint rather than a guess.
  SecondsSinceWhole: (r) => r.secondsSinceWhole,
};

/**
 * Runs one look and publishes what it counted, with the cluster as a dimension of every
 * metric; a look that throws publishes WatcherErrors 1 and rethrows, so Lambda counts it too.
 */
export async function publishedLook(
  metrics: Metrics,
  clusterId: string,
  look: () => Promise<WatchReport>,
): Promise<WatchReport> {
  metrics.addDimension('ClusterId', clusterId);
  try {
    const report = await look();
    for (const { name, unit } of WATCH_METRICS) {
      const value = VALUES[name](report);
      if (value !== undefined) metrics.addMetric(name, unit, value);
    }
    metrics.addMetric(WATCHER_ERRORS, MetricUnit.Count, 0);
    return report;
  } catch (error) {
    metrics.addMetric(WATCHER_ERRORS, MetricUnit.Count, 1);
    throw error;
  }
}
