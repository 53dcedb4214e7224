import type { RecordedEvent } from '#domain/events.ts';

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
 * When each phase of an incident ended, from the events it wrote: the failure seen
 * (detected), the last FTS promotion (promoted), the last segment back up (recovered), the
 * last pair back in sync (redundant again), and the same after `gprecoverseg -r`.
 */
export function incidentTimings(
  events: readonly RecordedEvent[],
  incidentId: string,
  completedAt: string,
): IncidentTimings {
  const start = events.findIndex(
    (e) => e.type === 'RecoveryRequested' && e.data.incidentId === incidentId,
  );
  const requestedAt = events[start]?.at ?? completedAt;
  const incident = start < 0 ? [] : events.slice(start);
  const firstRecovered = incident.findIndex((e) => e.type === 'SegmentRecovered');
  // gprecoverseg -r starts with FTS promoting the preferred primaries back.
  const rebalanceStart =
    firstRecovered < 0
      ? -1
      : incident.findIndex((e, i) => i > firstRecovered && e.type === 'MirrorPromoted');
  const before = rebalanceStart < 0 ? incident : incident.slice(0, rebalanceStart);
  const after = rebalanceStart < 0 ? [] : incident.slice(rebalanceStart);
  const last = (list: readonly RecordedEvent[], ...types: RecordedEvent['type'][]) =>
    list.findLast((e) => types.includes(e.type))?.at;
  const firstFailure = before.find(
    (e) =>
      e.type === 'SegmentMarkedDown' ||
      e.type === 'MirrorPromoted' ||
      e.type === 'DoubleFaultDetected',
  );
  const recoveryBegins =
    firstRecovered < 0 ? before : before.slice(0, before.indexOf(incident[firstRecovered]!));
  const timings: IncidentTimings = { requestedAt, completedAt };
  const set = (key: keyof IncidentTimings, value: string | undefined) => {
    if (value) timings[key] = value;
  };
  set('detectedAt', firstFailure?.at);
  set('promotedAt', last(recoveryBegins, 'MirrorPromoted'));
  set('recoveredAt', last(before, 'SegmentRecovered'));
  set('synchronizedAt', last(before, 'PairSynchronized'));
  set('rebalancedAt', last(after, 'PairSynchronized'));
  return timings;
}
