import { InvalidTransition } from '#domain/errors.ts';
import { fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import type { DoubleFault } from '#domain/observation.ts';
import { coordinatorRows } from '#domain/coordinator-fold.ts';
import { locationOf, pairsOf, sameLocation, type Pair, type SegmentRow } from '#domain/segment.ts';

/** What the cluster showed when it was read: its catalog and the contents with no live copy. */
export interface Observation {
  segments: readonly SegmentRow[];
  doubleFaults: readonly DoubleFault[];
}

/** The catalog changed in a way no sequence of Greenplum events can explain. */
export class UnexplainedConfiguration extends InvalidTransition {
  override name = 'UnexplainedConfiguration';
}

/** A failed segment seen up again, wherever gprecoverseg put it. */
const recoveredEvent = (logged: SegmentRow, seen: SegmentRow): NewEvent => ({
  type: 'SegmentRecovered',
  data: sameLocation(logged, seen)
    ? { dbid: logged.dbid }
    : { dbid: logged.dbid, relocatedTo: locationOf(seen) },
});

/**
 * The events that take the log's view of one pair to what the cluster shows, in the order
 * Greenplum makes the changes: FTS promotion, then the mirror's status, then the pair's mode.
 */
function pairEvents(
  logged: Pair,
  seen: Pair,
  doubleFault: DoubleFault | undefined,
  faulted: boolean,
): NewEvent[] {
  const events: NewEvent[] = [];
  let primary = logged.primary;
  let mirror = logged.mirror;
  if (!mirror || !seen.mirror) return events;

  if (seen.primary.dbid !== primary.dbid) {
    if (seen.primary.dbid !== mirror.dbid)
      throw new UnexplainedConfiguration(
        `content ${seen.content}: dbid ${seen.primary.dbid} is acting primary, but the pair is dbid ${primary.dbid} and dbid ${mirror.dbid}`,
      );
    if (!(mirror.status === 'u' && mirror.mode === 's')) {
      if (faulted)
        throw new UnexplainedConfiguration(
          `content ${seen.content}: dbid ${mirror.dbid} became acting primary after a double fault; investigate before recovering`,
        );
      // FTS promotes only a mirror it saw in sync, so between the two looks this one was
      // brought back and caught up: the only history Greenplum allows.
      if (mirror.status === 'd') events.push(recoveredEvent(mirror, seen.primary));
      events.push({ type: 'PairSynchronized', data: { content: seen.content } });
      mirror = { ...mirror, status: 'u', mode: 's' };
    }
    events.push({
      type: 'MirrorPromoted',
      data: { content: seen.content, promotedDbid: mirror.dbid, demotedDbid: primary.dbid },
    });
    [primary, mirror] = [
      { ...mirror, role: 'p', mode: 'n' },
      { ...primary, role: 'm', status: 'd', mode: 'n' },
    ];
  }

  const seenMirror = seen.mirror;
  // A failed mirror the catalog shows down elsewhere: gprecoverseg -p moved it and it never
  // came up there. The next recovery starts from where the catalog has it.
  if (mirror.status === 'd' && seenMirror.status === 'd' && !sameLocation(mirror, seenMirror)) {
    const to = locationOf(seenMirror);
    events.push({ type: 'SegmentRelocated', data: { dbid: mirror.dbid, to } });
    mirror = { ...mirror, ...to };
  }
  if (mirror.status === 'u' && seenMirror.status === 'd') {
    events.push({ type: 'SegmentMarkedDown', data: { dbid: mirror.dbid } });
    mirror = { ...mirror, status: 'd', mode: 'n' };
  } else if (mirror.status === 'd' && seenMirror.status === 'u') {
    events.push(recoveredEvent(mirror, seenMirror));
    mirror = { ...mirror, status: 'u', mode: 'n' };
  }

  if (
    mirror.status === 'u' &&
    mirror.mode === 'n' &&
    seenMirror.mode === 's' &&
    seen.primary.mode === 's'
  )
    events.push({ type: 'PairSynchronized', data: { content: seen.content } });

  if (doubleFault && !faulted) events.push({ type: 'DoubleFaultDetected', data: doubleFault });
  // Only an operator brings a double-faulted content back (gpstop -M fast, gpstart: captures
  // 83-85); its acting primary answering again is the evidence.
  if (!doubleFault && faulted)
    events.push({
      type: 'DoubleFaultCleared',
      data: { content: seen.content, primaryDbid: primary.dbid },
    });
  return events;
}

/**
 * A standby the catalog shows and the log does not: added by `gpinitstandby` after the cluster
 * was registered (seen on the real cluster: captures 111, 113). Only under the coordinator on
 * record; a coordinator that changed outside recoverseg is for an operator to register again.
 */
function standbyEvents(state: ClusterState, observation: Observation): NewEvent[] {
  const logged = coordinatorRows(state.segments);
  const seen = coordinatorRows(observation.segments);
  if (logged.standby || !seen.standby || seen.coordinator?.dbid !== logged.coordinator?.dbid)
    return [];
  return [
    {
      type: 'StandbyInitialized',
      data: { dbid: seen.standby.dbid, location: locationOf(seen.standby) },
    },
  ];
}

/**
 * The events that explain the difference between the log's state and an observation of the
 * cluster, content by content. Folding them onto `state` gives the observed catalog.
 * Differences Greenplum cannot produce (a dbid outside the pair promoted, a content vanished)
 * are refused with `UnexplainedConfiguration` instead of being written down as facts.
 */
export function reconcile(state: ClusterState, observation: Observation): NewEvent[] {
  const seenPairs = new Map(pairsOf(observation.segments).map((p) => [p.content, p]));
  const faults = new Map(observation.doubleFaults.map((f) => [f.content, f]));
  const events: NewEvent[] = [];
  for (const logged of pairsOf(state.segments.values())) {
    const seen = seenPairs.get(logged.content);
    if (!seen)
      throw new UnexplainedConfiguration(
        `content ${logged.content} is missing from the cluster's configuration`,
      );
    const found = pairEvents(
      logged,
      seen,
      faults.get(logged.content),
      state.doubleFaults.includes(logged.content),
    );
    events.push(...found);
  }
  events.push(...standbyEvents(state, observation));
  // Folded once, not evolved event by event: a copy of the state per event made a look at an
  // 8,000-segment failure quadratic. The fold refuses the same first event either way.
  fold(events, state);
  return events;
}
