import { describe, expect, it } from 'vitest';
import {
  ACTIVATION_RULES,
  COORDINATOR_FAILOVER_RULES,
  COORDINATOR_LOOK_RULES,
  FENCE_RULES,
  STANDBY_OBSERVATION_RULES,
  approvalRisk,
  staleStandbyReport,
  type ActivationContext,
  type CoordinatorLookContext,
  type FailoverContext,
  type StandbyLookContext,
} from '#domain/coordinator.ts';
import type { StandbyReplication } from '#domain/events.ts';
import { everyRow, row } from './rows.ts';

const standby = row({
  dbid: 10,
  content: -1,
  role: 'm',
  preferred_role: 'm',
  hostname: 'smdw',
  address: 'smdw',
  port: 5433,
});
const coordinator = row({ dbid: 1, content: -1, hostname: 'mdw', address: 'mdw', port: 5432 });
const inSync: StandbyReplication = { state: 'streaming', syncState: 'sync' };
const catchingUp: StandbyReplication = { state: 'catchup', syncState: 'async' };
const recorded = (replication: StandbyReplication, standbyDbid = 10) => ({
  standbyDbid,
  replication,
  seq: 42,
  at: '2026-12-03T08:11:15.000Z',
});

describe('STANDBY_OBSERVATION_RULES', () => {
  const look = (over: Partial<StandbyLookContext>): StandbyLookContext => ({
    standby,
    seen: inSync,
    onRecord: recorded(inSync),
    ...over,
  });
  everyRow(STANDBY_OBSERVATION_RULES, [
    [1, look({ standby: undefined, onRecord: undefined })],
    [2, look({ onRecord: undefined })],
    [2, look({ onRecord: recorded(inSync, 12) })],
    [3, look({ seen: { state: 'absent' } })],
    [3, look({ seen: { state: 'streaming', syncState: 'async' } })],
    [4, look({})],
    [4, look({ seen: { ...inSync, sentLocation: '0/D000000' } })],
    [4, look({ seen: catchingUp, onRecord: recorded(catchingUp) })],
  ]);
});

describe('COORDINATOR_FAILOVER_RULES', () => {
  const loss = (over: Partial<FailoverContext>): FailoverContext => ({
    standby,
    probe: { coordinator: 'no-response', standby: 'mirror-ready' },
    observation: recorded(inSync),
    observationAgeSeconds: 11,
    maxObservationAgeSeconds: 60,
    policy: 'approval',
    ...over,
  });
  everyRow(COORDINATOR_FAILOVER_RULES, [
    [1, loss({ standby: undefined })],
    [2, loss({ probe: undefined })],
    [3, loss({ probe: { coordinator: 'accepting', standby: 'mirror-ready' } })],
    [3, loss({ probe: { coordinator: 'rejecting', standby: 'mirror-ready' } })],
    [4, loss({ probe: { coordinator: 'no-response', standby: 'no-response' } })],
    [5, loss({ observation: undefined })],
    [5, loss({ observation: recorded(inSync, 12) })],
    [6, loss({ observation: recorded(catchingUp) })],
    [6, loss({ observation: recorded({ state: 'absent' }) })],
    [7, loss({ observationAgeSeconds: 61 })],
    [7, loss({ observationAgeSeconds: undefined })],
    [8, loss({ policy: 'off' })],
    [9, loss({})],
    [9, loss({ policy: 'auto', observationAgeSeconds: 60 })],
  ]);

  it('a refusal names the observation it was refused on', () => {
    expect(staleStandbyReport(loss({ observation: recorded(catchingUp) }))).toBe(
      "standby dbid 10 (smdw:5433): the last observation on record (seq 42, 2026-12-03T08:11:15.000Z, 11 s before the coordinator's loss) shows walsender catchup, sync state async; activation needs streaming in sync at most 60 s before the loss: recoverseg will not activate it; check it (gpstate -f) and run gpactivatestandby yourself if you accept losing what it did not receive",
    );
    expect(staleStandbyReport(loss({ observation: undefined }))).toMatch(
      /^standby dbid 10 \(smdw:5433\): no observation of its replication on record/,
    );
    expect(staleStandbyReport(loss({ observation: recorded({ state: 'absent' }) }))).toContain(
      'shows no walsender (the standby was not connected)',
    );
  });
});

describe('FENCE_RULES', () => {
  everyRow(FENCE_RULES, [
    [1, { instanceKnown: true, hostAnswers: false }],
    [1, { instanceKnown: true, hostAnswers: true }],
    [2, { instanceKnown: false, hostAnswers: true }],
    [3, { instanceKnown: false, hostAnswers: false }],
  ]);
});

describe('ACTIVATION_RULES', () => {
  const gate = (over: Partial<ActivationContext>): ActivationContext => ({
    policy: 'approval',
    fence: 'pg-ctl-stop-immediate',
    approved: undefined,
    ...over,
  });
  everyRow(ACTIVATION_RULES, [
    [1, gate({ approved: 'pg-ctl-stop-immediate' })],
    [1, gate({ approved: 'ec2-stop-instances', fence: 'ec2-stop-instances', policy: 'off' })],
    // Approved unfenced, and a fence became possible since: fenced all the same.
    [1, gate({ approved: 'none' })],
    [2, gate({ approved: 'none', fence: 'none' })],
    [3, gate({ fence: 'none' })],
    // Approved for a fence that is no longer possible: asked again, naming the risk.
    [3, gate({ approved: 'pg-ctl-stop-immediate', fence: 'none' })],
    [3, gate({ fence: 'none', policy: 'auto' })],
    [4, gate({ policy: 'auto' })],
    [4, gate({ policy: 'auto', fence: 'ec2-stop-instances' })],
    [5, gate({})],
  ]);

  it('the approval notice names the risk of no fence, and how to approve', () => {
    expect(approvalRisk('gp1', gate({ fence: 'none' }), coordinator)).toBe(
      'the old coordinator dbid 1 (mdw:5432) cannot be fenced (its host does not answer): if it comes back while the standby acts, two coordinators run and the database can be corrupted; make sure it stays down; approve with recoverseg approve --cluster gp1',
    );
  });
});

describe('COORDINATOR_LOOK_RULES', () => {
  const look = (over: Partial<CoordinatorLookContext>): CoordinatorLookContext => ({
    standby,
    probe: { coordinator: 'no-response', standby: 'mirror-ready' },
    unreachableOnRecord: false,
    failoverInProgress: false,
    failoverEndedSinceLoss: false,
    ...over,
  });
  everyRow(COORDINATOR_LOOK_RULES, [
    [1, look({ standby: undefined })],
    [2, look({ probe: undefined })],
    [3, look({ probe: { coordinator: 'accepting', standby: 'mirror-ready' } })],
    [3, look({ probe: { coordinator: 'rejecting', standby: 'mirror-ready' } })],
    // gpstop: the standby stops a moment after the coordinator.
    [4, look({ probe: { coordinator: 'no-response', standby: 'no-response' } })],
    [
      4,
      look({
        unreachableOnRecord: true,
        probe: { coordinator: 'no-response', standby: 'accepting' },
      }),
    ],
    [5, look({ unreachableOnRecord: true, failoverInProgress: true })],
    [6, look({ unreachableOnRecord: true, failoverEndedSinceLoss: true })],
    [7, look({ unreachableOnRecord: true })],
    [8, look({})],
  ]);
});
