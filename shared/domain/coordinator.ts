import {
  coordinatorRows,
  isStreamingInSync,
  lastConfirmed,
  type StandbyObservation,
} from '#domain/coordinator-fold.ts';
import type { ClusterState } from '#domain/evolve.ts';
import type { CoordinatorPolicy, FenceMethod, StandbyReplication } from '#domain/events.ts';
import { secondsBetween } from '#domain/iso-time.ts';
import { always, type Table } from '#domain/rules.ts';
import type { SegmentLocation, SegmentRow } from '#domain/segment.ts';

/*
 * The coordinator's decisions, as tables of rows (see rules.ts): when a look records the
 * standby's replication, whether a lost coordinator's standby may be activated, how the old
 * coordinator is fenced, and when the activation goes ahead. No Greenplum release automates any
 * of this (GREENPLUM.md, "Coordinator failure"); these rows are the care an operator takes.
 */

/**
 * A cluster registered without a coordinator policy activates nothing on its own: an
 * operator approves each activation. The last observation of the standby must be at most a
 * minute older than the coordinator's loss.
 */
export const DEFAULT_COORDINATOR_POLICY: {
  policy: CoordinatorPolicy;
  maxObservationAgeSeconds: number;
  newStandby?: SegmentLocation;
} = { policy: 'approval', maxObservationAgeSeconds: 60 };

export const coordinatorPolicyOf = (state: ClusterState) =>
  state.coordinator?.policy ?? DEFAULT_COORDINATOR_POLICY;

/* ---------- Does a look record the standby's replication? ---------- */

export interface StandbyLookContext {
  /** The catalog's standby (content -1, role m), if any. */
  standby: SegmentRow | undefined;
  /** pg_stat_replication's walsender to the standby as the look read it. */
  seen: StandbyReplication;
  onRecord: StandbyObservation | undefined;
}

const sameReplication = (a: StandbyReplication, b: StandbyReplication) =>
  a.state === b.state && a.syncState === b.syncState;

export const STANDBY_OBSERVATION_RULES: Table<StandbyLookContext, 'record' | 'nothing'> = [
  {
    rule: 'the catalog has no standby: nothing to observe',
    when: (c) => c.standby === undefined,
    then: 'nothing',
  },
  {
    rule: 'no observation of this standby on record (a new standby, or the first look): record it',
    when: (c) => c.onRecord?.standbyDbid !== c.standby!.dbid,
    then: 'record',
  },
  {
    rule: 'the walsender state or the sync state differs from the record (a dead standby shows only here: no walsender): record it',
    when: (c) => !sameReplication(c.seen, c.onRecord!.replication),
    then: 'record',
  },
  {
    rule: 'otherwise: nothing changed (WAL locations move with every commit; they are not a change)',
    when: always,
    then: 'nothing',
  },
];

/* ---------- May the lost coordinator's standby be activated? ---------- */

export interface FailoverContext {
  /** The catalog's standby (content -1, role m), if any. */
  standby: SegmentRow | undefined;
  /** pg_isready from the standby's host, as the run asked it; undefined when it could not ask. */
  probe: CoordinatorProbe | undefined;
  /** The last observation of the standby's replication on record. */
  observation: StandbyObservation | undefined;
  /**
   * Seconds from the observation (or the last look that confirmed it, kept outside the log) to
   * the coordinator's loss on record; undefined when undated.
   */
  observationAgeSeconds: number | undefined;
  maxObservationAgeSeconds: number;
  policy: CoordinatorPolicy;
}

export type FailoverVerdict =
  | 'no-standby'
  | 'cannot-probe'
  | 'coordinator-answers'
  | 'standby-down'
  | 'stale-standby'
  | 'off'
  | 'start';

export const COORDINATOR_FAILOVER_RULES: Table<FailoverContext, FailoverVerdict> = [
  {
    rule: 'the catalog has no standby: nothing to activate; an operator restores the coordinator',
    when: (c) => c.standby === undefined,
    then: 'no-standby',
  },
  {
    rule: "the standby's host cannot be asked (no coordinator operations, or it does not answer): refuse; nothing is activated unseen",
    when: (c) => c.probe === undefined,
    then: 'cannot-probe',
  },
  {
    rule: 'pg_isready reaches the coordinator (accepting, or rejecting while it starts or stops): it is not lost; nothing to fail over',
    when: (c) => c.probe!.coordinator !== 'no-response',
    then: 'coordinator-answers',
  },
  {
    rule: 'the standby does not answer "mirror ready": nothing alive to activate',
    when: (c) => c.probe!.standby !== 'mirror-ready',
    then: 'standby-down',
  },
  {
    rule: 'no observation of this standby on record: refuse; never activate a standby nobody saw in sync',
    when: (c) => c.observation?.standbyDbid !== c.standby!.dbid,
    then: 'stale-standby',
  },
  {
    rule: 'the last observation on record is not streaming in sync (catching up, async, or no walsender): refuse; activating it could lose committed transactions',
    when: (c) => !isStreamingInSync(c.observation!.replication),
    then: 'stale-standby',
  },
  {
    rule: 'the last observation on record is older than the bound before the loss (default 60 s): refuse; the standby may have fallen behind unseen',
    when: (c) =>
      c.observationAgeSeconds === undefined || c.observationAgeSeconds > c.maxObservationAgeSeconds,
    then: 'stale-standby',
  },
  {
    rule: 'the coordinator policy is off: record and notify; activate nothing',
    when: (c) => c.policy === 'off',
    then: 'off',
  },
  {
    rule: 'otherwise: start the failover (fence, then activate, by the policy)',
    when: always,
    then: 'start',
  },
];

/** A look found the standby still as observation `observationSeq` says, at `at`. */
export interface StandbyConfirmation {
  standbyDbid: number;
  observationSeq: number;
  at: string;
}

/** The confirmation's time, when it confirms the observation on record. */
export function confirmedAtOf(
  observation: StandbyObservation | undefined,
  confirmation: StandbyConfirmation | undefined,
): string | undefined {
  return observation &&
    confirmation?.observationSeq === observation.seq &&
    confirmation.standbyDbid === observation.standbyDbid
    ? confirmation.at
    : undefined;
}

export function failoverContext(
  state: ClusterState,
  probe: CoordinatorProbe | undefined,
  confirmation?: StandbyConfirmation,
): FailoverContext {
  const { standby } = coordinatorRows(state.segments);
  const observation = state.coordinator?.standby;
  const { policy, maxObservationAgeSeconds } = coordinatorPolicyOf(state);
  return {
    standby,
    probe,
    observation,
    observationAgeSeconds: observation
      ? secondsBetween(
          lastConfirmed(observation, confirmedAtOf(observation, confirmation)),
          state.coordinator?.unreachable?.since,
        )
      : undefined,
    maxObservationAgeSeconds,
    policy,
  };
}

const replicationWords = (r: StandbyReplication): string =>
  r.state === 'absent'
    ? 'no walsender (the standby was not connected)'
    : `walsender ${r.state}${r.syncState ? `, sync state ${r.syncState}` : ''}${r.replayLocation ? `, replayed to ${r.replayLocation}` : ''}`;

/** What a refusal says: the standby, and the observation it was refused on. */
export function staleStandbyReport(c: FailoverContext): string {
  const standby = c.standby!;
  const who = `standby dbid ${standby.dbid} (${standby.hostname}:${standby.port})`;
  const o = c.observation;
  if (o?.standbyDbid !== standby.dbid)
    return `${who}: no observation of its replication on record; recoverseg never activates a standby nobody saw in sync: check it (gpstate -f) and run gpactivatestandby yourself if you accept the risk`;
  const age =
    c.observationAgeSeconds === undefined
      ? 'undated'
      : `${Math.round(c.observationAgeSeconds)} s before the coordinator's loss`;
  return (
    `${who}: the last observation on record (seq ${o.seq}, ${o.at ?? 'undated'}, ${age}) shows ${replicationWords(o.replication)}; ` +
    `activation needs streaming in sync at most ${c.maxObservationAgeSeconds} s before the loss: ` +
    `recoverseg will not activate it; check it (gpstate -f) and run gpactivatestandby yourself if you accept losing what it did not receive`
  );
}

/* ---------- How is the old coordinator fenced? ---------- */

export interface FenceContext {
  /** The old coordinator's EC2 instance is known (the stack's settings). */
  instanceKnown: boolean;
  /** The old coordinator's host answers the transport (ssh, SSM, a shell). */
  hostAnswers: boolean;
}

export const FENCE_RULES: Table<FenceContext, FenceMethod> = [
  {
    rule: "the old coordinator's EC2 instance is known: stop it (StopInstances, force) and wait until it is stopped",
    when: (c) => c.instanceKnown,
    then: 'ec2-stop-instances',
  },
  {
    rule: "the old coordinator's host answers: pg_ctl stop -m immediate on its data directory, then remove the socket lock files it left in /tmp",
    when: (c) => c.hostAnswers,
    then: 'pg-ctl-stop-immediate',
  },
  {
    rule: 'otherwise: no fence; nobody can make sure the old coordinator stays down',
    when: always,
    then: 'none',
  },
];

/* ---------- Does the activation go ahead? ---------- */

export interface ActivationContext {
  policy: CoordinatorPolicy;
  /** The fence possible now (FENCE_RULES). */
  fence: FenceMethod;
  /** An operator approved, and for which fence (`none`: going ahead unfenced). */
  approved: FenceMethod | undefined;
}

export type ActivationVerdict = 'fence-and-activate' | 'activate-unfenced' | 'await-approval';

export const ACTIVATION_RULES: Table<ActivationContext, ActivationVerdict> = [
  {
    rule: 'an operator approved and a fence exists: fence, then activate',
    when: (c) => c.approved !== undefined && c.fence !== 'none',
    then: 'fence-and-activate',
  },
  {
    rule: 'an operator approved going ahead without a fence, the risk named in what was approved: activate, fence on record as none',
    when: (c) => c.approved === 'none',
    then: 'activate-unfenced',
  },
  {
    rule: 'no fence: wait for an operator, naming the risk (the old coordinator coming back makes two coordinators); never auto',
    when: (c) => c.fence === 'none',
    then: 'await-approval',
  },
  {
    rule: 'the policy is auto and a fence exists: fence, then activate',
    when: (c) => c.policy === 'auto',
    then: 'fence-and-activate',
  },
  {
    rule: 'otherwise (policy approval, the default): wait for an operator',
    when: always,
    then: 'await-approval',
  },
];

/** What the operator reads while the activation waits. */
export function approvalRisk(clusterId: string, c: ActivationContext, old: SegmentRow): string {
  const risk =
    c.fence === 'none'
      ? `the old coordinator dbid ${old.dbid} (${old.hostname}:${old.port}) cannot be fenced (its host does not answer): if it comes back while the standby acts, two coordinators run and the database can be corrupted; make sure it stays down`
      : `policy approval: the old coordinator dbid ${old.dbid} (${old.hostname}:${old.port}) will be fenced (${c.fence}), then the standby activated`;
  return `${risk}; approve with recoverseg approve --cluster ${clusterId}`;
}

/* ---------- A look that could not read the cluster: is the coordinator lost? ---------- */

/** pg_isready's answers (captures 116, 121), as the port names them. */
export type PostmasterAnswer =
  'accepting' | 'rejecting' | 'no-response' | 'no-attempt' | 'mirror-ready';

export interface CoordinatorProbe {
  coordinator: PostmasterAnswer;
  standby: PostmasterAnswer;
}

export interface CoordinatorLookContext {
  /** The catalog's standby (content -1, role m), if any. */
  standby: SegmentRow | undefined;
  /** pg_isready from the standby's host; undefined when the adapter cannot ask. */
  probe: CoordinatorProbe | undefined;
  /** The coordinator's loss is on record (CoordinatorUnreachable). */
  unreachableOnRecord: boolean;
  failoverInProgress: boolean;
  /** A failover run ended (refused, failed or completed) since the loss on record. */
  failoverEndedSinceLoss: boolean;
}

export type CoordinatorLookVerdict =
  'failed-look' | 'leave-to-run' | 'nothing' | 'record-unreachable' | 'start-failover';

/**
 * A look whose read of the coordinator failed. One look that finds the coordinator gone only
 * records it; the next one, if it finds the same, starts the failover run: a `gpstop` stops
 * the coordinator first and its standby a moment later, and a planned stop must never look
 * like a loss to act on.
 */
export const COORDINATOR_LOOK_RULES: Table<CoordinatorLookContext, CoordinatorLookVerdict> = [
  {
    rule: 'the catalog has no standby: nothing can take over; the look fails as it failed',
    when: (c) => c.standby === undefined,
    then: 'failed-look',
  },
  {
    rule: "the adapter cannot reach the standby's host to ask (no coordinator operations): the look fails as it failed",
    when: (c) => c.probe === undefined,
    then: 'failed-look',
  },
  {
    rule: 'pg_isready reaches the coordinator (accepting, or rejecting while it starts or stops): it is not lost; the look fails as it failed',
    when: (c) => c.probe!.coordinator !== 'no-response',
    then: 'failed-look',
  },
  {
    rule: 'the standby does not answer "mirror ready" either (the cluster is stopped, or both are lost): nothing to activate; the look fails',
    when: (c) => c.probe!.standby !== 'mirror-ready',
    then: 'failed-look',
  },
  {
    rule: 'a failover run is in progress: leave the cluster to it',
    when: (c) => c.failoverInProgress,
    then: 'leave-to-run',
  },
  {
    rule: 'a failover run for this loss has ended (refused, failed, or done): an operator acts now; start nothing again',
    when: (c) => c.unreachableOnRecord && c.failoverEndedSinceLoss,
    then: 'nothing',
  },
  {
    rule: 'the loss is on record since an earlier look and this look confirms it: start the failover run',
    when: (c) => c.unreachableOnRecord,
    then: 'start-failover',
  },
  {
    rule: 'first look to find the coordinator gone and the standby alive: record the loss; the next look confirms it',
    when: always,
    then: 'record-unreachable',
  },
];
