import type { EventOf, Phase } from '#domain/events.ts';
import { always, type Table } from '#domain/rules.ts';
import type { OperationResult, PlanResult } from '#domain/step-contract.ts';

/*
 * How a run starts, plans and ends, as tables of rows (see rules.ts); the
 * decisions about the cluster itself are in decisions.ts.
 */

/* ---------- StartRecovery: what the log holds when the run takes the lock ---------- */

export interface StartContext {
  incidentId: string;
  /** The incident of the recovery the log shows in progress, if any. */
  open: string | undefined;
}

export const START_RULES: Table<StartContext, 'resume' | 'supersede' | 'request'> = [
  {
    rule: 'this incident is already on record (a retried StartRecovery): write nothing',
    when: (c) => c.open === c.incidentId,
    then: 'resume',
  },
  {
    rule: 'another incident is still open though its lock was free: its run is gone; close it as abandoned, then request this one',
    when: (c) => c.open !== undefined,
    then: 'supersede',
  },
  { rule: 'otherwise: request the recovery', when: always, then: 'request' },
];

/* ---------- PlanRecovery: what to do with the plan ---------- */

export interface PlanContext {
  dryRun: boolean;
  /** Segments the plan recovers. */
  planned: number;
  /** The very same plan is on record for this incident, none of its segments back up yet. */
  inProgress: boolean;
}

export const PLAN_RULES: Table<PlanContext, { next: PlanResult['next']; record: boolean }> = [
  {
    rule: 'a dry run: record the plan and finish; gprecoverseg never runs',
    when: (c) => c.dryRun,
    then: { next: 'dry-run', record: true },
  },
  {
    rule: 'no segment is down: nothing to record or recover; wait for every pair to be in sync',
    when: (c) => c.planned === 0,
    then: { next: 'sync', record: false },
  },
  {
    rule: 'the same plan is on record and in progress (a retried step, or a run resumed after a restart): record nothing; its gprecoverseg is found, not started again',
    when: (c) => c.inProgress,
    then: { next: 'recover', record: false },
  },
  {
    rule: 'otherwise: record the plan, then run gprecoverseg',
    when: always,
    then: { next: 'recover', record: true },
  },
];

/* ---------- FinishRecovery: the outcome on record ---------- */

type Outcome = EventOf<'RecoveryCompleted'>['data']['outcome'];

export interface FinishContext {
  dryRun: boolean;
  /** CheckSync ended the wait for a rebalance approval or window unbalanced. */
  unbalanced: boolean;
  /** Segments the last plan recovered. */
  planned: number;
  /** The last operation was gprecoverseg -r. */
  rebalanced: boolean;
}

export const FINISH_RULES: Table<FinishContext, NonNullable<Outcome>> = [
  {
    rule: 'a dry run: the plan is the outcome; nothing was recovered',
    when: (c) => c.dryRun,
    then: 'planned',
  },
  {
    rule: 'no rebalance approval or window came in time: redundant, roles still switched',
    when: (c) => c.unbalanced,
    then: 'unbalanced',
  },
  {
    rule: 'no segment was down and no rebalance ran: nothing to do',
    when: (c) => c.planned === 0 && !c.rebalanced,
    then: 'nothing-to-do',
  },
  { rule: 'otherwise: recovered', when: always, then: 'recovered' },
];

/** What the operator reads on record when the outcome alone does not say why. */
export const OUTCOME_NOTES: Partial<Record<NonNullable<Outcome>, string>> = {
  unbalanced:
    'no rebalance approval or window came in time: every pair is in sync (the cluster is redundant) but acting primaries stay off their preferred hosts; run gprecoverseg -r in a quiet hour, or start a recovery with rebalance policy immediate',
};

/* ---------- RecordFailure: the phase the run failed in ---------- */

export interface FailureContext {
  /** The phase whose Catch wrote `$.errors.<phase>`, if one did. */
  caught: Phase | undefined;
  operation: OperationResult['kind'] | undefined;
}

export const FAILURE_PHASE_RULES: Table<FailureContext, Phase | 'as-caught'> = [
  {
    rule: 'polling gprecoverseg -r failed (CheckRecovery, phase recover, polls it): the run failed rebalancing',
    when: (c) => c.caught === 'recover' && c.operation === 'rebalance',
    then: 'rebalance',
  },
  {
    rule: 'a step caught the error: the phase of that step',
    when: (c) => c.caught !== undefined,
    then: 'as-caught',
  },
  {
    rule: 'no step caught an error (RecordFailure ran on its own): finishing',
    when: always,
    then: 'finish',
  },
];
