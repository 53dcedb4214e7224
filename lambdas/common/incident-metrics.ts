import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';

/** Phase ends of an incident, as RecoveryCompleted's timings name them. */
export interface PhaseTimings {
  requestedAt: string;
  promotedAt?: string;
  synchronizedAt?: string;
  rebalancedAt?: string;
}

/**
 * The three durations a DBA reports after an incident, in seconds since the recovery was
 * requested. The dashboard searches for these names; one list keeps both sides in step.
 */
export const INCIDENT_METRICS = [
  { name: 'TimeToPromoted', label: 'promoted', at: 'promotedAt' },
  { name: 'TimeToRedundant', label: 'redundant again', at: 'synchronizedAt' },
  { name: 'TimeToRebalanced', label: 'rebalanced', at: 'rebalancedAt' },
] as const satisfies readonly { name: string; label: string; at: keyof PhaseTimings }[];

/**
 * Publishes each phase the incident reached, with the cluster as a dimension. Each is a single
 * metric (flushed at once, its own dimensions), so ClusterId does not spill onto the function's
 * other metrics and each metric keeps it (a single metric drops its dimensions when it flushes).
 */
export function publishIncidentMetrics(
  metrics: Metrics,
  clusterId: string,
  timings: PhaseTimings,
): void {
  const reached = INCIDENT_METRICS.flatMap(({ name, at }) => {
    const end = timings[at];
    return end === undefined
      ? []
      : [{ name, seconds: (Date.parse(end) - Date.parse(timings.requestedAt)) / 1000 }];
  });
  for (const { name, seconds } of reached) {
    const single = metrics.singleMetric();
    single.addDimension('ClusterId', clusterId);
    single.addMetric(name, MetricUnit.Seconds, Math.max(0, seconds));
  }
}
