import { describe } from 'vitest';
import {
  PROMOTION_RULES,
  REBALANCE_POLICY_RULES,
  RECOVERY_OUTCOME_RULES,
  RECOVERY_TYPE_RULES,
  RELOCATION_RULES,
  RUN_PHASE_RULES,
  SOURCE_RULES,
  SYNC_RULES,
  type PromotionContext,
  type RebalancePolicyContext,
  type RecoveryProgressContext,
  type RunPhaseContext,
  type SegmentToRecover,
  type SourceContext,
  type SyncContext,
} from '#domain/decisions.ts';
import { recoveryOptionsSchema } from '#domain/events.ts';
import { everyRow, pair } from './rows.ts';

const options = (over: object = {}) => recoveryOptionsSchema.parse(over);
const healthy = pair();
const mirrorDown = pair({ mode: 'n' }, { status: 'd', mode: 'n' });
/** FTS promoted content 0's mirror: dbid 6 acts as primary, dbid 2 is down. */
const switched = pair(
  { dbid: 6, preferred_role: 'm', hostname: 'sdw2', address: 'sdw2', mode: 'n' },
  { dbid: 2, preferred_role: 'p', hostname: 'sdw1', address: 'sdw1', status: 'd', mode: 'n' },
);

describe('RELOCATION_RULES', () => {
  everyRow(RELOCATION_RULES, [
    [1, options({ type: 'incremental', targetHosts: { sdw2: 'sdw9' } })],
    [1, options({ type: 'differential', targetHosts: { sdw2: 'sdw9' } })],
    [2, options({ type: 'full', targetHosts: { sdw2: 'sdw9' } })],
    [2, options({ targetHosts: { sdw2: 'sdw9' } })],
    [2, options({ type: 'incremental' })],
  ]);
});

describe('RECOVERY_TYPE_RULES', () => {
  const segment = (over: Partial<SegmentToRecover>): SegmentToRecover => ({
    pair: mirrorDown,
    options: options(),
    inPlaceFailed: false,
    doubleFaulted: [],
    ...over,
  });
  everyRow(RECOVERY_TYPE_RULES, [
    [1, segment({ pair: healthy })],
    [1, segment({ pair: pair({}, undefined) })],
    [1, segment({ pair: healthy, doubleFaulted: [healthy] })],
    [2, segment({ doubleFaulted: [mirrorDown] })],
    [3, segment({ options: options({ targetHosts: { sdw2: 'sdw9' } }), inPlaceFailed: true })],
    [4, segment({ options: options({ type: 'differential' }), inPlaceFailed: true })],
    [5, segment({ inPlaceFailed: true })],
    [6, segment({})],
  ]);
});

describe('PROMOTION_RULES', () => {
  const promotion = (over: Partial<PromotionContext>): PromotionContext => ({
    doubleFaulted: [],
    awaitingFailover: [],
    awaitingMarkDown: [],
    notReady: [],
    ...over,
  });
  const promoting = { ...switched.primary, answer: 'mirror-ready' as const };
  everyRow(PROMOTION_RULES, [
    [1, promotion({ doubleFaulted: [switched], awaitingFailover: [healthy.primary] })],
    [2, promotion({ awaitingFailover: [healthy.primary], awaitingMarkDown: [healthy] })],
    [3, promotion({ awaitingMarkDown: [healthy], notReady: [promoting] })],
    [4, promotion({ notReady: [promoting] })],
    [4, promotion({ notReady: [{ ...promoting, answer: 'rejecting' }] })],
    [5, promotion({})],
  ]);
});

describe('SOURCE_RULES', () => {
  const item = { dbid: 6, content: 0, sourceDbid: 2, type: 'incremental' as const };
  const sources = (over: Partial<SourceContext['sources'][number]>): SourceContext => ({
    doubleFaulted: [],
    sources: [{ item, actingPrimary: mirrorDown.primary, answers: true, ...over }],
  });
  everyRow(SOURCE_RULES, [
    [1, { ...sources({}), doubleFaulted: [switched] }],
    [2, sources({ actingPrimary: switched.primary, answers: false })],
    [2, sources({ actingPrimary: undefined, answers: false })],
    [3, sources({ answers: false, notReady: 'mirror-ready' })],
    [4, sources({ notReady: 'mirror-ready' })],
    [5, sources({})],
  ]);
});

describe('RECOVERY_OUTCOME_RULES', () => {
  const poll = (over: Partial<RecoveryProgressContext>): RecoveryProgressContext => ({
    kind: 'recovery',
    done: true,
    failures: [],
    forced: false,
    escalated: [],
    doubleFaulted: [],
    plans: 1,
    outOfPolls: false,
    ...over,
  });
  const failed = [{ dbid: 6, needsFull: true }];
  everyRow(RECOVERY_OUTCOME_RULES, [
    [1, poll({ doubleFaulted: [switched], done: false, outOfPolls: true })],
    [2, poll({ done: false, outOfPolls: true })],
    [2, poll({ kind: 'rebalance', done: false, outOfPolls: true })],
    [3, poll({ done: false })],
    [4, poll({ kind: 'rebalance', failures: failed, outOfPolls: true })],
    [5, poll({ kind: 'rebalance' })],
    [6, poll({ outOfPolls: true })],
    [7, poll({ failures: failed })],
    [8, poll({ failures: failed, forced: true })],
    [8, poll({ failures: failed, escalated: [6] })],
    [8, poll({ failures: failed, plans: 5 })],
    [8, poll({ failures: [{ dbid: 6, needsFull: false }] })],
  ]);
});

describe('SYNC_RULES', () => {
  const inSyncSwitched = pair(
    { dbid: 6, preferred_role: 'm', hostname: 'sdw2', address: 'sdw2' },
    { dbid: 2, preferred_role: 'p', hostname: 'sdw1', address: 'sdw1' },
  );
  const catchingUp = pair({ mode: 'n' }, { mode: 'n' });
  const sync = (over: Partial<SyncContext>, gate: Partial<SyncContext['rebalance']> = {}) => ({
    pairs: [inSyncSwitched],
    streaming: [0],
    notReady: [],
    doubleFaulted: [],
    rebalanceRequested: true,
    rebalanceDone: false,
    maxReplayLagBytes: 0,
    replayLagLimitBytes: 100,
    plans: 1,
    outOfTime: false,
    ...over,
    rebalance: {
      policy: 'approval' as const,
      approved: false,
      windowOpen: false,
      waitedTooLong: false,
      ...gate,
    },
  });
  everyRow(SYNC_RULES, [
    [1, sync({ doubleFaulted: [switched], pairs: [switched] })],
    [2, sync({ pairs: [mirrorDown], outOfTime: true })],
    [3, sync({ pairs: [mirrorDown], plans: 5 })],
    [4, sync({ pairs: [catchingUp], outOfTime: true })],
    [5, sync({ pairs: [catchingUp] })],
    [5, sync({ streaming: [] })],
    [6, sync({ pairs: [healthy], notReady: [2], outOfTime: true })],
    [7, sync({ pairs: [healthy], notReady: [2] })],
    [7, sync({ notReady: [6], rebalanceDone: true })],
    [8, sync({ pairs: [healthy], maxReplayLagBytes: 1000 })],
    [8, sync({ rebalanceRequested: false })],
    [8, sync({}, { policy: 'never' })],
    [8, sync({ rebalanceDone: true })],
    [9, sync({ maxReplayLagBytes: 100, outOfTime: true }, { policy: 'immediate' })],
    [10, sync({ maxReplayLagBytes: 100 }, { policy: 'immediate' })],
    [11, sync({ maxReplayLagBytes: undefined }, { policy: 'immediate' })],
    [12, sync({}, { approved: true, waitedTooLong: true })],
    [13, sync({}, { policy: 'window', windowOpen: true, waitedTooLong: true })],
    [14, sync({}, { policy: 'window', waitedTooLong: true })],
    [15, sync({}, { policy: 'window' })],
    [15, sync({ outOfTime: true })],
  ]);
});

describe('REBALANCE_POLICY_RULES', () => {
  const policy = (over: Partial<RebalancePolicyContext>): RebalancePolicyContext => ({
    options: { rebalance: true, rebalancePolicy: undefined },
    cluster: undefined,
    trigger: 'cli',
    ...over,
  });
  const window = { policy: 'window' as const, window: 'Sun 02:00-04:00 UTC' };
  everyRow(REBALANCE_POLICY_RULES, [
    [1, policy({ options: { rebalance: false, rebalancePolicy: 'immediate' }, cluster: window })],
    [2, policy({ options: { rebalance: true, rebalancePolicy: 'approval' }, cluster: window })],
    [3, policy({ cluster: window, trigger: 'alarm' })],
    [4, policy({ trigger: 'alarm' })],
    [4, policy({ trigger: 'ec2' })],
    [4, policy({ trigger: 'watch' })],
    [5, policy({ trigger: 'api' })],
    [5, policy({ trigger: 'scenario' })],
  ]);
});

describe('RUN_PHASE_RULES', () => {
  const run = (over: Partial<RunPhaseContext>): RunPhaseContext => ({
    planned: true,
    recovering: 0,
    unsynchronized: 0,
    switched: 0,
    awaitingRebalance: false,
    approved: false,
    ...over,
  });
  everyRow(RUN_PHASE_RULES, [
    [1, run({ awaitingRebalance: true, switched: 2 })],
    [2, run({ planned: false, unsynchronized: 2, awaitingRebalance: true })],
    [3, run({ recovering: 2, unsynchronized: 2 })],
    [4, run({ unsynchronized: 2, switched: 2 })],
    [5, run({ switched: 2, awaitingRebalance: true, approved: true })],
    [6, run({})],
  ]);
});
