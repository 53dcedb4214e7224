import { beforeAll, describe, expect, it } from 'vitest';
import {
  DoubleFault,
  IncrementalRecoveryFailed,
  PromotionPending,
  UnknownCluster,
} from '#domain/errors.ts';
import type { WorkflowInputRequest } from '#domain/step-contract.ts';
import { ClusterLocked } from '#store/errors.ts';
import * as steps from '#app/steps.ts';
import {
  Execution,
  executionArn,
  FIXED,
  stepsHarness,
  type StepsHarness,
} from './steps-harness.ts';

let h: StepsHarness;
let n = 0;
const fresh = () => `s${++n}`;

beforeAll(async () => {
  h = stepsHarness();
});

const request = (
  clusterId: string,
  incidentId: string,
  extra: Partial<WorkflowInputRequest> = {},
): WorkflowInputRequest => ({
  clusterId,
  incidentId,
  trigger: { source: 'api' },
  options: {},
  ...extra,
});
const execution = (input: WorkflowInputRequest) =>
  new Execution(h.deps, executionArn(`${input.clusterId}--${input.incidentId}`), input);
const facts = async (clusterId: string) =>
  (await h.stores.events.read(clusterId)).map((e) => ({ type: e.type, data: e.data }));
const types = async (clusterId: string) => (await facts(clusterId)).map((e) => e.type);

/** Start, Detect and Promote of the seed incident (segment-2 powered off). */
async function promoted(
  clusterId: string,
  options: WorkflowInputRequest['options'] = {},
  times = 1,
) {
  const run = execution(request(clusterId, 'inc', { options }));
  await run.run(steps.startRecovery, 'start', times);
  await run.run(steps.detectFailures, 'detect', times);
  await run.run(steps.checkPromotion, 'promote', times);
  return run;
}

/** The seed incident through every step, each Lambda invoked `times` times with the same input. */
async function seedIncident(clusterId: string, times: number) {
  await h.seed(clusterId);
  await h.sim(clusterId).failHost('segment-2');
  const run = await promoted(clusterId, {}, times);
  expect(await run.run(steps.planRecoveryStep, 'plan', times)).toMatchObject({ next: 'recover' });
  await run.run(steps.recoverSegments, 'operation', times);
  expect(await run.run(steps.checkRecovery, 'operation', times)).toMatchObject({
    next: 'sync',
    recovered: [6, 7, 4, 5],
  });
  expect(await run.run(steps.checkSync, 'sync', times)).toMatchObject({ next: 'rebalance' });
  await run.run(steps.rebalanceSegments, 'operation', times);
  expect(await run.run(steps.checkRecovery, 'operation', times)).toMatchObject({
    kind: 'rebalance',
    next: 'sync',
  });
  expect(await run.run(steps.checkSync, 'sync', times)).toMatchObject({ next: 'finish' });
  expect(await run.run(steps.finishRecovery, undefined, times)).toMatchObject({
    status: 'succeeded',
    outcome: 'recovered',
  });
  return run;
}

describe('every step can be retried: the same input writes each fact once', () => {
  it('writes the same log whether each step ran once or twice, and starts each gprecoverseg once', async () => {
    const once = fresh();
    const twice = fresh();
    await Promise.all([seedIncident(once, 1), seedIncident(twice, 2)]);
    const expected = await facts(once);
    expect(expected.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'RecoveryRequested',
        'MirrorPromoted',
        'RecoveryPlanned',
        'PairSynchronized',
        'RecoveryCompleted',
      ]),
    );
    expect(await facts(twice)).toEqual(expected);
    const operations = (await h.sim(twice).readState()).operations.map((o) => o.kind);
    expect(operations).toEqual(['recovery', 'rebalance']);
    expect(await h.stores.lock.read(twice)).toBeUndefined();
  });

  it('StartRecovery retried takes the lock once for its execution and requests the recovery once', async () => {
    const id = fresh();
    await h.seed(id);
    const run = execution(request(id, 'inc'));
    const results = [
      await run.run(steps.startRecovery, 'start'),
      await run.run(steps.startRecovery, 'start'),
    ];
    // Where the coordinator was: every later step of the run reaches the cluster there.
    const coordinator = expect.objectContaining({ dbid: 1, content: -1, role: 'p' });
    expect(results).toEqual([
      { at: FIXED.toISOString(), seq: 2, coordinator },
      { at: FIXED.toISOString(), seq: 2, coordinator },
    ]);
    expect(await types(id)).toEqual(['ClusterRegistered', 'RecoveryRequested']);
    expect(await h.stores.lock.read(id)).toMatchObject({
      holder: run.executionId,
      incidentId: 'inc',
    });
  });

  it('RecordFailure retried appends RecoveryFailed once and notifies', async () => {
    const id = fresh();
    await h.seed(id);
    const run = execution(request(id, 'inc'));
    await run.run(steps.startRecovery, 'start');
    run.state.errors = { detect: { Error: 'States.Timeout' } };
    await run.run(steps.recordFailure, undefined, 2);
    expect(await types(id)).toEqual(['ClusterRegistered', 'RecoveryRequested', 'RecoveryFailed']);
  });
});

describe('StartRecovery holds one recovery per cluster', () => {
  it('refuses a second execution with ClusterLocked while the first holds the lock, and appends nothing', async () => {
    const id = fresh();
    await h.seed(id);
    const first = execution(request(id, 'inc-1'));
    await first.run(steps.startRecovery, 'start');
    const before = await h.stores.events.readHead(id);
    const second = execution(request(id, 'inc-2'));
    const refused = second.run(steps.startRecovery, 'start');
    await expect(refused).rejects.toThrow(ClusterLocked);
    await expect(refused).rejects.toMatchObject({
      name: 'ClusterLocked',
      holder: first.executionId,
    });
    expect(await h.stores.events.readHead(id)).toEqual(before);
    expect(await h.stores.lock.read(id)).toMatchObject({
      holder: first.executionId,
      incidentId: 'inc-1',
    });
  });

  it('refuses an unregistered cluster with UnknownCluster before taking the lock', async () => {
    const run = execution(request('ghost', 'inc'));
    await expect(run.run(steps.startRecovery, 'start')).rejects.toMatchObject({
      name: 'UnknownCluster',
    });
    await expect(run.run(steps.startRecovery, 'start')).rejects.toThrow(UnknownCluster);
    expect(await h.stores.lock.read('ghost')).toBeUndefined();
  });
});

describe('CheckPromotion never promotes a stale mirror', () => {
  it('throws DoubleFault naming the content and both dbids when a mirror was down and then its primary host failed', async () => {
    const id = fresh();
    await h.seed(id);
    await h.sim(id).crashSegment(7);
    const run = execution(request(id, 'inc'));
    await run.run(steps.startRecovery, 'start');
    expect(await run.run(steps.detectFailures, 'detect')).toMatchObject({
      down: [7],
      doubleFaults: [],
    });
    await h.sim(id).failHost('segment-1');
    const check = run.run(steps.checkPromotion, 'promote');
    await expect(check).rejects.toThrow(DoubleFault);
    await expect(check).rejects.toMatchObject({
      name: 'DoubleFault',
      message: expect.stringMatching(
        /content 1: double fault \(acting primary dbid 3 on segment-1:\d+ does not answer, mirror dbid 7 down\); run gpstop -a -M fast, then gpstart -a/,
      ),
    });
    const log = await facts(id);
    expect(log).toContainEqual({
      type: 'DoubleFaultDetected',
      data: { content: 1, primaryDbid: 3, mirrorDbid: 7 },
    });
    expect(
      log
        .filter((e) => e.type === 'MirrorPromoted')
        .map((e) => (e.data as { content: number }).content),
    ).not.toContain(1);
  });

  it('throws PromotionPending naming the primaries FTS has not failed over on a host known to be down', async () => {
    const id = fresh();
    await h.seed(id);
    const run = execution(request(id, 'inc', { failedHosts: ['segment-1'] }));
    await run.run(steps.startRecovery, 'start');
    await run.run(steps.detectFailures, 'detect');
    const before = await h.stores.events.readHead(id);
    const check = run.run(steps.checkPromotion, 'promote');
    await expect(check).rejects.toThrow(PromotionPending);
    await expect(check).rejects.toMatchObject({
      name: 'PromotionPending',
      message: expect.stringMatching(
        /failed over dbid 2 \(content 0, segment-1\); FTS has not yet failed over dbid 3 \(content 1, segment-1\)/,
      ),
    });
    expect(await h.stores.events.readHead(id)).toEqual(before);
  });

  it('passes once FTS promoted every mirror of the failed host', async () => {
    const id = fresh();
    await h.seed(id);
    await h.sim(id).failHost('segment-2');
    const run = execution(request(id, 'inc', { failedHosts: ['segment-2'] }));
    await run.run(steps.startRecovery, 'start');
    expect(await run.run(steps.checkPromotion, 'promote')).toEqual({
      at: FIXED.toISOString(),
      verdict: 'promoted',
      rule: 'every content has a running acting primary',
    });
  });
});

describe('recovery of a segment whose data directory is gone', () => {
  async function failedIncremental(options: WorkflowInputRequest['options']) {
    const id = fresh();
    await h.seed(id);
    await h.sim(id).loseDataDirectory(6);
    const run = await promoted(id, options);
    expect(await run.run(steps.planRecoveryStep, 'plan')).toMatchObject({
      next: 'recover',
      planned: 1,
      escalated: [],
    });
    await run.run(steps.recoverSegments, 'operation');
    return { id, run };
  }

  it('fails with IncrementalRecoveryFailed and no escalation when the caller forced incremental', async () => {
    const { id, run } = await failedIncremental({ type: 'incremental' });
    const check = run.run(steps.checkRecovery, 'operation');
    await expect(check).rejects.toThrow(IncrementalRecoveryFailed);
    await expect(check).rejects.toMatchObject({
      name: 'IncrementalRecoveryFailed',
      message: expect.stringMatching(
        /^dbid 6 \(content 0, segment-2:\d+\): incremental recovery failed .*no escalation: run again with type full$/,
      ),
    });
    const log = await facts(id);
    expect(log.filter((e) => e.type === 'RecoveryPlanned')).toHaveLength(1);
    expect(log.at(-1)).toMatchObject({
      type: 'SegmentRecoveryFailed',
      data: { dbid: 6, type: 'incremental' },
    });
  });

  it('escalates to full under the auto policy: the plan after the failure has type full', async () => {
    const { id, run } = await failedIncremental({});
    expect(await run.run(steps.checkRecovery, 'operation')).toMatchObject({
      next: 'replan',
      failed: [6],
    });
    expect(await run.run(steps.planRecoveryStep, 'plan')).toMatchObject({
      next: 'recover',
      planned: 1,
      escalated: [6],
    });
    const plans = (await facts(id))
      .filter((e) => e.type === 'RecoveryPlanned')
      .map((e) => (e.data as { items: { type: string }[] }).items.map((i) => i.type));
    expect(plans).toEqual([['incremental'], ['full']]);
    await run.run(steps.recoverSegments, 'operation');
    expect(await run.run(steps.checkRecovery, 'operation')).toMatchObject({
      next: 'sync',
      recovered: [6],
      failed: [],
    });
  });
});

describe('RecordFailure closes the run it owns, and only that', () => {
  it('appends RecoveryFailed with the phase and the reason from the Cause, releases the lock and notifies', async () => {
    const id = fresh();
    await h.seed(id);
    const run = execution(request(id, 'inc'));
    await run.run(steps.startRecovery, 'start');
    const reason = 'content 1: double fault (primary dbid 3 down, mirror dbid 7 not in sync)';
    run.state.errors = {
      promote: {
        Error: 'DoubleFault',
        Cause: JSON.stringify({ errorType: 'DoubleFault', errorMessage: reason, trace: [] }),
      },
    };
    expect(await run.run(steps.recordFailure, undefined)).toEqual({
      phase: 'promote',
      error: 'DoubleFault',
      cause: reason,
    });
    expect((await facts(id)).at(-1)).toEqual({
      type: 'RecoveryFailed',
      data: { incidentId: 'inc', phase: 'promote', reason },
    });
    expect(await h.stores.lock.read(id)).toBeUndefined();
    expect(h.notifier.sent.at(-1)).toEqual({
      clusterId: id,
      incidentId: 'inc',
      status: 'failed',
      phase: 'promote',
      reason,
    });
  });

  it('appends nothing and leaves the holder its lock when the run was refused with ClusterLocked', async () => {
    const id = fresh();
    await h.seed(id);
    const holder = execution(request(id, 'inc-1'));
    await holder.run(steps.startRecovery, 'start');
    const refused = execution(request(id, 'inc-2'));
    await expect(refused.run(steps.startRecovery, 'start')).rejects.toThrow(ClusterLocked);
    const before = await h.stores.events.readHead(id);
    refused.state.errors = {
      start: {
        Error: 'ClusterLocked',
        Cause: JSON.stringify({
          errorType: 'ClusterLocked',
          errorMessage: `cluster ${id} is being recovered by ${holder.executionId}`,
        }),
      },
    };
    expect(await refused.run(steps.recordFailure, undefined)).toMatchObject({
      phase: 'start',
      error: 'ClusterLocked',
    });
    expect(await h.stores.events.readHead(id)).toEqual(before);
    expect(await h.stores.lock.read(id)).toMatchObject({ holder: holder.executionId });
  });

  it('records the rebalance phase when the failure was caught while rebalancing', async () => {
    const id = fresh();
    await h.seed(id);
    const run = execution(request(id, 'inc'));
    await run.run(steps.startRecovery, 'start');
    run.state.operation = {
      at: FIXED.toISOString(),
      operationId: 'rebalance-1',
      kind: 'rebalance',
      polls: 3,
      next: 'wait',
      percent: 50,
      recovered: [],
      failed: [],
    };
    run.state.errors = {
      recover: { Error: 'RebalanceFailed', Cause: 'not JSON: gprecoverseg -r failed' },
    };
    expect(await run.run(steps.recordFailure, undefined)).toEqual({
      phase: 'rebalance',
      error: 'RebalanceFailed',
      cause: 'not JSON: gprecoverseg -r failed',
    });
  });
});
