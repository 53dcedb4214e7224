import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { INCIDENT_METRICS, publishIncidentMetrics } from '#lambdas/common/incident-metrics.ts';

/** The EMF documents Powertools writes to stdout, parsed. */
function captureEmf(): { documents: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  return {
    documents: () =>
      lines
        .flatMap((l) => l.split('\n'))
        .filter((l) => l.includes('"_aws"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

// The local runtime turns metrics off for the tests that run the workflow; these look at them.
beforeEach(() => vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false'));
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('incident metrics', () => {
  it('publishes time to promoted, redundant again and rebalanced in seconds, per cluster', () => {
    const emf = captureEmf();
    const metrics = new Metrics({ namespace: 'recoverseg', serviceName: 'recoverseg' });
    metrics.addMetric('FinishRecoverySucceeded', 'Count', 1);
    publishIncidentMetrics(metrics, 'seed', {
      requestedAt: '2024-12-23T12:00:00.000Z',
      promotedAt: '2024-12-23T12:00:02.500Z',
      synchronizedAt: '2024-12-23T12:03:00.000Z',
      rebalancedAt: '2024-12-23T12:05:30.000Z',
    });
    metrics.publishStoredMetrics();
    const documents = emf.documents();
    const incident = documents.filter((d) => 'ClusterId' in d);
    expect(incident.map((d) => [d.ClusterId, d.service])).toEqual([
      ['seed', 'recoverseg'],
      ['seed', 'recoverseg'],
      ['seed', 'recoverseg'],
    ]);
    expect(
      Object.fromEntries(
        incident.flatMap((d) => Object.entries(d).filter(([k]) => k.startsWith('TimeTo'))),
      ),
    ).toEqual({
      TimeToPromoted: 2.5,
      TimeToRedundant: 180,
      TimeToRebalanced: 330,
    });
    for (const d of incident) {
      const [directive] = (
        d._aws as {
          CloudWatchMetrics: {
            Namespace: string;
            Dimensions: string[][];
            Metrics: { Unit: string }[];
          }[];
        }
      ).CloudWatchMetrics;
      expect(directive!.Namespace).toBe('recoverseg');
      expect(directive!.Dimensions[0]!.sort()).toEqual(['ClusterId', 'service']);
      expect(directive!.Metrics[0]!.Unit).toBe('Seconds');
    }
    // The function's own metric does not carry the cluster.
    const own = documents.find((d) => 'FinishRecoverySucceeded' in d)!;
    expect(own).not.toHaveProperty('ClusterId');
  });

  it('publishes only the phases the incident reached (no rebalance: no TimeToRebalanced)', () => {
    const emf = captureEmf();
    const metrics = new Metrics({ namespace: 'recoverseg', serviceName: 'recoverseg' });
    publishIncidentMetrics(metrics, 'c1', {
      requestedAt: '2024-12-23T12:00:00.000Z',
      promotedAt: '2024-12-23T12:00:01.000Z',
      synchronizedAt: '2024-12-23T12:00:09.000Z',
    });
    const names = emf
      .documents()
      .flatMap((d) => Object.keys(d).filter((k) => k.startsWith('Time')));
    expect(names).toEqual(['TimeToPromoted', 'TimeToRedundant']);
    expect(INCIDENT_METRICS.map((m) => m.name)).toEqual([
      'TimeToPromoted',
      'TimeToRedundant',
      'TimeToRebalanced',
    ]);
  });
});
