import type { EventType, RecordedEvent } from '#domain/events.ts';
import { RUN_ENDS } from '#domain/evolve.ts';

export interface IncidentTimings {
  requestedAt: string;
  detectedAt?: string;
  promotedAt?: string;
  recoveredAt?: string;
  synchronizedAt?: string;
  rebalancedAt?: string;
  completedAt: string;
}

/**
 * When each phase of an incident ended, from what its run recorded:
 * - detected: the first failure its run saw (a mirror marked down, a failover, a double fault);
 * - promoted: the last failover FTS made before this incident's gprecoverseg started (a
 *   preferred primary demoted; a pair switched back to its preferred roles is not one);
 * - recovered: the last segment this incident's gprecoverseg brought back up;
 * - redundant again (synchronizedAt): its run saw every pair up, in sync and streaming
 *   (ClusterRedundant);
 * - rebalanced: its own gprecoverseg -r ended with every pair in its preferred roles, in sync
 *   and streaming (ClusterRebalanced).
 * State carried over from an earlier incident (a pair resynchronized or switched back while no
 * run looked) is reconciled on record, but credited to none of these.
 *
 * The failure a run answers may be on record before its request: the watcher records what a
 * look saw, then starts the run (policy auto) or notifies and an operator starts it. Those
 * faults, recorded since the cluster was last seen whole or a run last ended, count as this
 * incident's: detected is then the first of them, and a failover among them is promoted at the
 * request (the phases are timed from the request; the cluster was promoted by then).
 */
export function incidentTimings(
  events: readonly RecordedEvent[],
  incidentId: string,
  completedAt: string,
  /** dbids whose preferred role is primary: demoting one is a failover. */
  preferredPrimaries: ReadonlySet<number>,
): IncidentTimings {
  const start = events.findIndex(
    (e) => e.type === 'RecoveryRequested' && e.data.incidentId === incidentId,
  );
  const incident = start < 0 ? [] : events.slice(start);
  const since = events.findLastIndex((e, i) => i < start && CLOSES_A_FAILURE.has(e.type));
  const seenBefore = start < 0 ? [] : events.slice(since + 1, start);
  const timings: IncidentTimings = { requestedAt: events[start]?.at ?? completedAt, completedAt };
  const failover = (e: RecordedEvent) =>
    e.type === 'MirrorPromoted' && preferredPrimaries.has(e.data.demotedDbid);
  const firstStart = incident.findIndex(
    (e) => e.type === 'SegmentRecoveryStarted' && e.data.incidentId === incidentId,
  );
  const beforeRecovery = firstStart < 0 ? incident : incident.slice(0, firstStart);
  const started = new Set<number>();
  let recoveredAt: string | undefined;
  for (const e of incident) {
    if (e.type === 'SegmentRecoveryStarted' && e.data.incidentId === incidentId)
      started.add(e.data.dbid);
    else if (e.type === 'SegmentRecovered' && started.has(e.data.dbid)) recoveredAt = e.at;
  }
  const set = (key: keyof IncidentTimings, value: string | undefined) => {
    if (value) timings[key] = value;
  };
  const fault = (e: RecordedEvent) =>
    e.type === 'SegmentMarkedDown' || e.type === 'DoubleFaultDetected' || failover(e);
  set('detectedAt', (seenBefore.find(fault) ?? incident.find(fault))?.at);
  set(
    'promotedAt',
    beforeRecovery.findLast(failover)?.at ??
      (seenBefore.some(failover) ? timings.requestedAt : undefined),
  );
  set('recoveredAt', recoveredAt);
  const mine = (type: 'ClusterRedundant' | 'ClusterRebalanced') =>
    incident.findLast((e) => e.type === type && e.data.incidentId === incidentId)?.at;
  set('synchronizedAt', mine('ClusterRedundant'));
  set('rebalancedAt', mine('ClusterRebalanced'));
  return timings;
}

/** After these, the cluster was whole or a run had answered what was on record. */
const CLOSES_A_FAILURE: ReadonlySet<EventType> = new Set([
  'ClusterRegistered',
  'ClusterSeenWhole',
  ...RUN_ENDS,
]);
