import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowInputRequest } from '#domain/step-contract.ts';
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
const fresh = () => `gate${++n}`;

beforeAll(async () => {
  h = stepsHarness();
});

/** The seed incident up to the first sync check once every pair is in sync. */
async function synchronized(
  clusterId: string,
  extra: Partial<WorkflowInputRequest> = {},
  trigger: WorkflowInputRequest['trigger'] = { source: 'alarm' },
) {
  await h.seed(clusterId);
  await h.sim(clusterId).failHost('segment-2');
  const run = new Execution(h.deps, executionArn(`${clusterId}--inc`), {
    clusterId,
    incidentId: 'inc',
    trigger,
    options: {},
    waits: { pollSeconds: 5, approvalPollSeconds: 300 },
    ...extra,
  });
  await run.run(steps.startRecovery, 'start');
  await run.run(steps.detectFailures, 'detect');
  await run.run(steps.checkPromotion, 'promote');
  await run.run(steps.planRecoveryStep, 'plan');
  await run.run(steps.recoverSegments, 'operation');
  await run.run(steps.checkRecovery, 'operation');
  return run;
}

describe('CheckSync: the rebalance gate', () => {
  it('an alarm run waits for approval, records it once, and tells the operators what to run', async () => {
    const id = fresh();
    const run = await synchronized(id);
    const sent = h.notifier.sent.length;
    const first = await run.run(steps.checkSync, 'sync');
    expect(first).toMatchObject({ next: 'await-rebalance', waitSeconds: 5, rebalanceChecks: 1 });
    const second = await run.run(steps.checkSync, 'sync');
    expect(second).toMatchObject({ next: 'await-rebalance', rebalanceChecks: 2 });
    const log = await h.stores.events.read(id);
    expect(log.filter((e) => e.type === 'RebalanceAwaitingApproval')).toEqual([
      expect.objectContaining({
        data: {
          incidentId: 'inc',
          setting: { policy: 'approval' },
          until: new Date(FIXED.getTime() + 2 * 24 * 3600 * 1000).toISOString(),
        },
      }),
    ]);
    const notices = h.notifier.sent.slice(sent);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ clusterId: id, status: 'awaiting-rebalance' });
    expect(notices[0]!.reason).toContain(`recoverseg approve --cluster ${id}`);
    expect(notices[0]!.reason).toContain('the cluster is redundant');
  });

  it('runs gprecoverseg -r at the next check once approved', async () => {
    const id = fresh();
    const run = await synchronized(id);
    await run.run(steps.checkSync, 'sync');
    const head = await h.stores.events.readHead(id);
    await h.stores.events.append(
      id,
      [{ type: 'RebalanceApproved', data: { incidentId: 'inc', by: 'dba' } }],
      { expectedSeq: head.lastSeq, idempotencyKey: 'approve', at: FIXED.toISOString() },
    );
    expect(await run.run(steps.checkSync, 'sync')).toMatchObject({ next: 'rebalance' });
  });

  it('a CLI run rebalances at once; a never run finishes with roles switched', async () => {
    const cli = await synchronized(fresh(), {}, { source: 'cli' });
    expect(await cli.run(steps.checkSync, 'sync')).toMatchObject({ next: 'rebalance' });
    const never = await synchronized(fresh(), { options: { rebalancePolicy: 'never' } });
    expect(await never.run(steps.checkSync, 'sync')).toMatchObject({ next: 'finish' });
  });

  it('a window not yet open: waits until it opens (at most an hour per check), until it closes', async () => {
    // FIXED is Monday 2024-12-23 12:00 UTC.
    const id = fresh();
    const run = await synchronized(id, {
      options: { rebalancePolicy: 'window', rebalanceWindow: 'Mon 12:20-13:00 UTC' },
      waits: { pollSeconds: 3600, approvalPollSeconds: 300 },
    });
    expect(await run.run(steps.checkSync, 'sync')).toMatchObject({
      next: 'await-rebalance',
      waitSeconds: 20 * 60,
    });
    const awaiting = (await h.stores.events.read(id)).find(
      (e) => e.type === 'RebalanceAwaitingApproval',
    );
    expect(awaiting?.data).toMatchObject({ until: '2024-12-23T13:00:00.000Z' });
    const open = await synchronized(fresh(), {
      options: { rebalancePolicy: 'window', rebalanceWindow: 'Mon 11:00-13:00 UTC' },
    });
    expect(await open.run(steps.checkSync, 'sync')).toMatchObject({ next: 'rebalance' });
  });

  it('ends unbalanced after its last check, and FinishRecovery records it as such', async () => {
    const id = fresh();
    const run = await synchronized(id, { limits: { maxRebalanceChecks: 1 } });
    expect(await run.run(steps.checkSync, 'sync')).toMatchObject({ next: 'await-rebalance' });
    expect(await run.run(steps.checkSync, 'sync')).toMatchObject({ next: 'unbalanced' });
    expect(await run.run(steps.finishRecovery, undefined)).toMatchObject({
      status: 'succeeded',
      outcome: 'unbalanced',
    });
    const state = await h.stores.events.loadState(id);
    expect(state.lastIncident).toMatchObject({ outcome: 'unbalanced' });
  });
});
