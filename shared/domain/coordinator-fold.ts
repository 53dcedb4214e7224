import { InvalidTransition } from '#domain/errors.ts';
import type {
  CoordinatorPolicy,
  EventData,
  FenceMethod,
  StandbyReplication,
  CoordinatorEventType,
} from '#domain/events.ts';
import { locationProblems } from '#domain/invariants.ts';
import { secondsBetween } from '#domain/iso-time.ts';
import type { SegmentLocation, SegmentRow } from '#domain/segment.ts';

/*
 * How the coordinator's events change the log's view (content -1 of gp_segment_configuration
 * and what Greenplum does not keep: the standby's last observation, the failover in progress).
 * Part of `evolve`: every rule checks the state it starts from, so an activation that could
 * leave two coordinators, or follow a stale observation, is refused rather than projected.
 */

/** The last observation of the standby's replication on record. */
export interface StandbyObservation {
  standbyDbid: number;
  replication: StandbyReplication;
  seq: number;
  at: string | undefined;
}

/** A coordinator failover in progress, as the log tells it. */
export interface ActiveFailover {
  incidentId: string;
  coordinatorDbid: number;
  standbyDbid: number;
  startedAt: string | undefined;
  /** The StandbySyncObserved the run was started on. */
  observationSeq: number;
  awaitingApproval?: { risk: string; fence: FenceMethod; since: string | undefined };
  approved?: { by: string; at: string | undefined };
  fenced?: { how: FenceMethod; detail: string; at: string | undefined };
  activated?: { at: string | undefined };
  clients: { how: 'route53' | 'hook'; endpoint: string; to: string }[];
}

export interface FailoverOutcome {
  incidentId: string;
  status: 'completed' | 'refused' | 'failed';
  at: string | undefined;
  outcome?: string;
  reason?: string;
}

/** What the log says about content -1 beyond its rows. */
export interface CoordinatorRecord {
  policy?: {
    policy: CoordinatorPolicy;
    maxObservationAgeSeconds: number;
    newStandby?: SegmentLocation;
  };
  standby?: StandbyObservation;
  /** The coordinator on record stopped answering (cleared when it answers or is replaced). */
  unreachable?: { coordinatorDbid: number; detail: string; since: string | undefined };
  failover?: ActiveFailover;
  lastFailover?: FailoverOutcome;
  /** The last gpinitstandby that failed, until a standby is initialized. */
  standbyFailure?: { incidentId: string; hostname: string; reason: string; at: string | undefined };
}

/** The part of evolve's draft these rules change. */
export interface CoordinatorDraft {
  seq: number;
  segments: Map<number, SegmentRow>;
  coordinator?: CoordinatorRecord;
}

const fail = (message: string): never => {
  throw new InvalidTransition(message);
};

/** The row gpinitstandby adds: content -1, m/m/s/u at `location` (capture 113). */
export const standbyRow = (dbid: number, location: SegmentLocation): SegmentRow => ({
  dbid,
  content: -1,
  role: 'm',
  preferred_role: 'm',
  mode: 's',
  status: 'u',
  ...location,
});

/** The coordinator (content -1, role p) and its standby (role m), as the rows show them. */
export function coordinatorRows(segments: { values(): Iterable<SegmentRow> }): {
  coordinator: SegmentRow | undefined;
  standby: SegmentRow | undefined;
} {
  let coordinator: SegmentRow | undefined;
  let standby: SegmentRow | undefined;
  for (const row of segments.values())
    if (row.content === -1) {
      if (row.role === 'p') coordinator = row;
      else standby = row;
    }
  return { coordinator, standby };
}

function registered(draft: CoordinatorDraft): void {
  if (draft.segments.size === 0) fail('the cluster is not registered; register it first');
}

function theCoordinator(draft: CoordinatorDraft, dbid: number): SegmentRow {
  const { coordinator } = coordinatorRows(draft.segments);
  if (coordinator?.dbid !== dbid)
    fail(
      `dbid ${dbid} is not the coordinator (content -1, role p)${coordinator ? `; the coordinator is dbid ${coordinator.dbid}` : ''}`,
    );
  return coordinator!;
}

function theStandby(draft: CoordinatorDraft, dbid: number): SegmentRow {
  const { standby } = coordinatorRows(draft.segments);
  if (standby?.dbid !== dbid)
    fail(
      `dbid ${dbid} is not the standby coordinator (content -1, role m)${standby ? `; the standby is dbid ${standby.dbid}` : '; the cluster has no standby'}`,
    );
  return standby!;
}

function activeFailover(draft: CoordinatorDraft, incidentId: string): ActiveFailover {
  const failover = draft.coordinator?.failover;
  if (!failover) return fail(`no coordinator failover is in progress (incident ${incidentId})`);
  if (failover.incidentId !== incidentId)
    return fail(
      `incident ${incidentId} is not the coordinator failover in progress (${failover.incidentId})`,
    );
  return failover;
}

const record = (draft: CoordinatorDraft): CoordinatorRecord => draft.coordinator ?? {};

function setFailover(draft: CoordinatorDraft, failover: ActiveFailover): void {
  draft.coordinator = { ...record(draft), failover };
}

function endFailover(draft: CoordinatorDraft, outcome: FailoverOutcome): void {
  const next: CoordinatorRecord = { ...record(draft), lastFailover: outcome };
  delete next.failover;
  draft.coordinator = next;
}

/** When the standby was last seen as observed: the observation, or a later look confirming it. */
export function lastConfirmed(
  observation: StandbyObservation,
  confirmedAt: string | undefined,
): string | undefined {
  if (confirmedAt === undefined) return observation.at;
  if (observation.at === undefined) return confirmedAt;
  const later = secondsBetween(observation.at, confirmedAt);
  return later !== undefined && later > 0 ? confirmedAt : observation.at;
}

/** Streaming and in sync: every commit waited for the standby's flush. */
export const isStreamingInSync = (replication: StandbyReplication): boolean =>
  replication.state === 'streaming' && replication.syncState === 'sync';

type Rule<T extends CoordinatorEventType> = (
  draft: CoordinatorDraft,
  data: EventData<T>,
  at: string | undefined,
) => void;

export const COORDINATOR_FOLD: { [T in CoordinatorEventType]: Rule<T> } = {
  CoordinatorPolicySet(draft, { policy, maxObservationAgeSeconds, newStandby }) {
    registered(draft);
    draft.coordinator = {
      ...record(draft),
      policy: { policy, maxObservationAgeSeconds, ...(newStandby ? { newStandby } : {}) },
    };
  },

  StandbySyncObserved(draft, { standbyDbid, replication }, at) {
    theStandby(draft, standbyDbid);
    draft.coordinator = {
      ...record(draft),
      standby: { standbyDbid, replication, seq: draft.seq + 1, at },
    };
  },

  CoordinatorUnreachable(draft, { coordinatorDbid, detail }, at) {
    theCoordinator(draft, coordinatorDbid);
    if (draft.coordinator?.unreachable)
      fail(`coordinator dbid ${coordinatorDbid} is already on record as unreachable`);
    draft.coordinator = { ...record(draft), unreachable: { coordinatorDbid, detail, since: at } };
  },

  CoordinatorAnswered(draft, { coordinatorDbid }) {
    theCoordinator(draft, coordinatorDbid);
    const known = record(draft);
    if (known.unreachable?.coordinatorDbid !== coordinatorDbid)
      fail(`coordinator dbid ${coordinatorDbid} is not on record as unreachable`);
    if (known.failover?.fenced)
      fail(
        `coordinator dbid ${coordinatorDbid} was fenced by incident ${known.failover.incidentId}; it cannot answer`,
      );
    const next = { ...known };
    delete next.unreachable;
    draft.coordinator = next;
  },

  CoordinatorFailoverStarted(draft, data, at) {
    const { incidentId, coordinatorDbid, standbyDbid, observationSeq } = data;
    const failover = draft.coordinator?.failover;
    if (failover)
      fail(
        `incident ${incidentId}: coordinator failover ${failover.incidentId} is still in progress`,
      );
    theCoordinator(draft, coordinatorDbid);
    theStandby(draft, standbyDbid);
    const unreachable = draft.coordinator?.unreachable;
    if (unreachable?.coordinatorDbid !== coordinatorDbid)
      fail(
        `incident ${incidentId}: coordinator dbid ${coordinatorDbid} is not on record as unreachable; recoverseg never replaces a coordinator that answers`,
      );
    // The log itself refuses a stale activation: the run must have started on the last
    // observation on record, streaming and in sync, made at most the bound before the loss.
    const observation = draft.coordinator?.standby;
    if (observation?.seq !== observationSeq || observation.standbyDbid !== standbyDbid)
      fail(
        `incident ${incidentId}: StandbySyncObserved seq ${observationSeq} is not the last observation of standby dbid ${standbyDbid} on record`,
      );
    if (!isStreamingInSync(observation!.replication))
      fail(
        `incident ${incidentId}: standby dbid ${standbyDbid} was last seen ${observation!.replication.state}${observation!.replication.syncState ? `/${observation!.replication.syncState}` : ''}, not streaming in sync; activating it could lose committed transactions`,
      );
    const age = secondsBetween(lastConfirmed(observation!, data.confirmedAt), unreachable!.since);
    if (age === undefined || age > data.maxObservationAgeSeconds)
      fail(
        `incident ${incidentId}: the last observation of standby dbid ${standbyDbid} (seq ${observationSeq}) is ${age === undefined ? 'undated' : `${age} s`} older than the coordinator's loss, over the bound of ${data.maxObservationAgeSeconds} s`,
      );
    setFailover(draft, {
      incidentId,
      coordinatorDbid,
      standbyDbid,
      startedAt: at,
      observationSeq,
      clients: [],
    });
  },

  CoordinatorFailoverRefused(draft, { incidentId, reason }, at) {
    const failover = draft.coordinator?.failover;
    if (failover && failover.incidentId !== incidentId)
      fail(
        `incident ${incidentId}: coordinator failover ${failover.incidentId} is still in progress`,
      );
    if (failover?.fenced)
      fail(`incident ${incidentId}: the old coordinator is fenced already; activate the standby`);
    registered(draft);
    endFailover(draft, { incidentId, status: 'refused', at, reason });
  },

  CoordinatorFailoverAwaitingApproval(draft, { incidentId, risk, fence }, at) {
    const failover = activeFailover(draft, incidentId);
    if (failover.activated) fail(`incident ${incidentId}: the standby is already activated`);
    if (failover.fenced) fail(`incident ${incidentId}: the old coordinator is already fenced`);
    // A new question needs a new answer: an approval given for a fence that is no longer
    // possible does not carry over to going ahead without one.
    const next: ActiveFailover = { ...failover, awaitingApproval: { risk, fence, since: at } };
    delete next.approved;
    setFailover(draft, next);
  },

  CoordinatorFailoverApproved(draft, { incidentId, by }, at) {
    const failover = activeFailover(draft, incidentId);
    if (!failover.awaitingApproval)
      fail(`incident ${incidentId}: the coordinator failover is not waiting for an approval`);
    if (failover.approved)
      fail(
        `incident ${incidentId}: the activation was already approved by ${failover.approved.by}`,
      );
    setFailover(draft, { ...failover, approved: { by, at } });
  },

  CoordinatorFenced(draft, { incidentId, coordinatorDbid, how, detail }, at) {
    const failover = activeFailover(draft, incidentId);
    if (failover.coordinatorDbid !== coordinatorDbid)
      fail(
        `incident ${incidentId}: fences dbid ${coordinatorDbid}, but the coordinator it replaces is dbid ${failover.coordinatorDbid}`,
      );
    if (failover.fenced) fail(`incident ${incidentId}: the old coordinator is already fenced`);
    if (how === 'none' && (!failover.approved || failover.awaitingApproval?.fence !== 'none'))
      fail(
        `incident ${incidentId}: no fence for coordinator dbid ${coordinatorDbid} and no operator approved going ahead without one; two coordinators could run`,
      );
    setFailover(draft, { ...failover, fenced: { how, detail, at } });
  },

  StandbyActivated(draft, { incidentId, dbid }, at) {
    const failover = activeFailover(draft, incidentId);
    if (dbid !== failover.standbyDbid)
      fail(
        `incident ${incidentId}: activates dbid ${dbid}, but the standby it started on is dbid ${failover.standbyDbid}`,
      );
    if (!failover.fenced)
      fail(
        `incident ${incidentId}: coordinator dbid ${failover.coordinatorDbid} is not fenced; activating the standby could leave two coordinators`,
      );
    const old = theCoordinator(draft, failover.coordinatorDbid);
    const standby = theStandby(draft, dbid);
    // What gpactivatestandby leaves in the catalog (capture 129): the standby's own row is the
    // coordinator, p/p/s/u, and the old coordinator's row is gone.
    draft.segments.delete(old.dbid);
    draft.segments.set(dbid, {
      ...standby,
      role: 'p',
      preferred_role: 'p',
      mode: 's',
      status: 'u',
    });
    const next: CoordinatorRecord = {
      ...record(draft),
      failover: { ...failover, activated: { at } },
    };
    delete next.unreachable;
    delete next.standby;
    draft.coordinator = next;
  },

  ClientEndpointMoved(draft, { incidentId, how, endpoint, to }) {
    const failover = activeFailover(draft, incidentId);
    if (!failover.activated)
      fail(`incident ${incidentId}: clients move only once the standby is activated`);
    setFailover(draft, { ...failover, clients: [...failover.clients, { how, endpoint, to }] });
  },

  CoordinatorFailoverCompleted(draft, { incidentId, outcome, note }, at) {
    const failover = activeFailover(draft, incidentId);
    if (outcome === 'activated' && !failover.activated)
      fail(`incident ${incidentId}: completed as activated, but no StandbyActivated is on record`);
    if (outcome !== 'activated' && failover.fenced)
      fail(
        `incident ${incidentId}: the old coordinator is fenced; the failover can only end activated or failed`,
      );
    endFailover(draft, {
      incidentId,
      status: 'completed',
      at,
      outcome,
      ...(note ? { reason: note } : {}),
    });
  },

  CoordinatorFailoverFailed(draft, { incidentId, reason }, at) {
    activeFailover(draft, incidentId);
    endFailover(draft, { incidentId, status: 'failed', at, reason });
  },

  StandbyInitializationFailed(draft, { incidentId, location, reason }, at) {
    registered(draft);
    draft.coordinator = {
      ...record(draft),
      standbyFailure: { incidentId, hostname: location.hostname, reason, at },
    };
  },

  StandbyInitialized(draft, { dbid, location }) {
    registered(draft);
    if (draft.coordinator?.standbyFailure) {
      const next = { ...draft.coordinator };
      delete next.standbyFailure;
      draft.coordinator = next;
    }
    const { coordinator, standby } = coordinatorRows(draft.segments);
    if (standby) fail(`the cluster already has a standby coordinator (dbid ${standby.dbid})`);
    if (!coordinator) fail('the cluster has no coordinator (content -1, role p)');
    const failover = draft.coordinator?.failover;
    if (failover && !failover.activated)
      fail(
        `coordinator failover ${failover.incidentId} is in progress and has not activated its standby`,
      );
    if (draft.segments.has(dbid)) fail(`dbid ${dbid} is already in the configuration`);
    const added = standbyRow(dbid, location);
    draft.segments.set(dbid, added);
    const problems = locationProblems(draft.segments.values(), added);
    if (problems.length > 0) fail(`standby dbid ${dbid}: ${problems.join('; ')}`);
  },
};

/** Events that change which rows content -1 has (evolve's per-content index is rebuilt). */
export const CHANGES_CONTENT_MEMBERS: ReadonlySet<string> = new Set([
  'StandbyActivated',
  'StandbyInitialized',
]);
