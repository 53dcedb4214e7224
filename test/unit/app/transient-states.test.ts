import { beforeEach, describe, expect, it } from 'vitest';
import { MalformedOutput } from '#cluster/greenplum/errors.ts';
import { CoordinatorScriptFailed } from '#cluster/transport/errors.ts';
import type { ClusterObservation, ClusterOperations, NotReady } from '#cluster/port.ts';
import { ClusterUnreadable, PromotionPending } from '#domain/errors.ts';
import type { WorkflowInputRequest } from '#domain/step-contract.ts';
import * as steps from '#app/steps.ts';
import { Execution, executionArn, stepsHarness, type StepsHarness } from './steps-harness.ts';

/*
 * What a real cluster passes through on its way, and what a run must never take for a failure:
 * a promoted mirror still answering "mirror ready" (capture 103), an answer no parser knows.
 * The seed cluster is simulated; each test says what its reads answer on top of it.
 */

let h: StepsHarness;
let n = 0;
/** Acting primaries the next reads report alive but not ready. */
let notReady: NotReady[] = [];
/** The next reads of the catalog throw this, once each. */
let unreadable: Error[] = [];

beforeEach(() => {
  h = stepsHarness();
  notReady = [];
  unreadable = [];
  const sim = h.deps.cluster;
  h.deps.cluster = (clusterId) => {
    const cluster = sim(clusterId);
    const readConfiguration = async (): Promise<ClusterObservation> => {
      const thrown = unreadable.shift();
      if (thrown) throw thrown;
      return { ...(await cluster.readConfiguration()), notReady };
    };
    return new Proxy(cluster, {
      get: (target, key, receiver) =>
        key === 'readConfiguration' ? readConfiguration : Reflect.get(target, key, receiver),
    }) as ClusterOperations;
  };
});

const execution = (clusterId: string, extra: Partial<WorkflowInputRequest> = {}) =>
  new Execution(h.deps, executionArn(`${clusterId}--inc`), {
    clusterId,
    incidentId: 'inc',
    trigger: { source: 'api' },
    options: {},
    ...extra,
  });
const types = async (clusterId: string) =>
  (await h.stores.events.read(clusterId)).map((e) => e.type);

async function hostDown() {
  const id = `t${++n}`;
  await h.seed(id);
  await h.sim(id).failHost('segment-2');
  const run = execution(id);
  await run.run(steps.startRecovery, 'start');
  await run.run(steps.detectFailures, 'detect');
  return { id, run };
}

/** The seed's mirrors of contents 2 and 3, acting primaries once FTS failed segment-2 over. */
const PROMOTED = [
  { dbid: 8, answer: 'mirror-ready' as const },
  { dbid: 9, answer: 'mirror-ready' as const },
];

describe('a promoted mirror still answering "mirror ready" (pg_isready 64, capture 103)', () => {
  it('CheckPromotion waits for the promotion to end (PromotionPending, probing again), then passes', async () => {
    const { run } = await hostDown();
    notReady = PROMOTED;
    const pending = run.run(steps.checkPromotion, 'promote');
    await expect(pending).rejects.toThrow(PromotionPending);
    await expect(pending).rejects.toThrow(
      /acting primary dbid 8 \(content 2, segment-1:\d+\) still answers "mirror ready": its promotion has not ended/,
    );
    notReady = [];
    await expect(run.run(steps.checkPromotion, 'promote')).resolves.toMatchObject({
      verdict: 'promoted',
    });
  });

  it('RecoverSegments never starts gprecoverseg from a source still finishing its promotion', async () => {
    const { id, run } = await hostDown();
    await run.run(steps.checkPromotion, 'promote');
    await run.run(steps.planRecoveryStep, 'plan');
    notReady = [PROMOTED[0]!];
    await expect(run.run(steps.recoverSegments, 'operation')).rejects.toThrow(
      /content 2: source acting primary dbid 8 .* "mirror ready".*; gprecoverseg waits for it/,
    );
    expect(await types(id)).not.toContain('SegmentRecoveryStarted');
    expect((await h.sim(id).readState()).operations).toEqual([]);
    notReady = [];
    await run.run(steps.recoverSegments, 'operation');
    expect((await h.sim(id).readState()).operations.map((o) => o.kind)).toEqual(['recovery']);
  });

  it('CheckSync after gprecoverseg -r waits while a preferred primary is promoted back, then records the rebalance', async () => {
    const { id, run } = await hostDown();
    await run.run(steps.checkPromotion, 'promote');
    await run.run(steps.planRecoveryStep, 'plan');
    await run.run(steps.recoverSegments, 'operation');
    await run.run(steps.checkRecovery, 'operation');
    expect(await run.run(steps.checkSync, 'sync')).toMatchObject({ next: 'rebalance' });
    await run.run(steps.rebalanceSegments, 'operation');
    await run.run(steps.checkRecovery, 'operation');
    // The preferred primaries 4 and 5 are acting primaries again, still mirrors for a while.
    notReady = [
      { dbid: 4, answer: 'mirror-ready' },
      { dbid: 5, answer: 'mirror-ready' },
    ];
    expect(await run.run(steps.checkSync, 'sync')).toMatchObject({ next: 'wait' });
    expect(await types(id)).not.toContain('ClusterRebalanced');
    notReady = [];
    expect(await run.run(steps.checkSync, 'sync')).toMatchObject({ next: 'finish' });
    const finished = await run.run(steps.finishRecovery, undefined);
    expect(finished).toMatchObject({ outcome: 'recovered' });
    const log = await types(id);
    expect(log.filter((t) => t === 'ClusterRedundant')).toHaveLength(1);
    expect(log.filter((t) => t === 'ClusterRebalanced')).toHaveLength(1);
    expect(log.indexOf('ClusterRedundant')).toBeLessThan(log.indexOf('ClusterRebalanced'));
    expect(finished.timings).toMatchObject({
      promotedAt: expect.any(String),
      recoveredAt: expect.any(String),
      synchronizedAt: expect.any(String),
      rebalancedAt: expect.any(String),
    });
  });
});

describe('an answer recoverseg cannot read', () => {
  const malformed = () =>
    new MalformedOutput(
      'read gp_segment_configuration',
      14,
      '8|65',
      'pg_isready exit status 65 (not one libpq defines) says nothing about dbid 8',
      '8|65\n',
    );

  it('is kept on record verbatim and thrown as ClusterUnreadable ("unreadable, retrying"); the retry reads on', async () => {
    const id = `t${++n}`;
    await h.seed(id);
    const run = execution(id);
    await run.run(steps.startRecovery, 'start');
    unreadable = [malformed()];
    const attempt = run.run(steps.detectFailures, 'detect');
    await expect(attempt).rejects.toThrow(ClusterUnreadable);
    await expect(attempt).rejects.toThrow(/unreadable, retrying/);
    const [kept] = (await h.stores.events.read(id)).filter(
      (e) => e.type === 'ClusterAnswerUnreadable',
    );
    expect(kept?.data).toEqual({
      incidentId: 'inc',
      what: 'read gp_segment_configuration',
      problem: 'pg_isready exit status 65 (not one libpq defines) says nothing about dbid 8',
      text: '8|65\n8|65',
    });
    const status = await h.stores.events.loadState(id);
    expect(status.recovery?.unreadable).toMatchObject({ what: 'read gp_segment_configuration' });
    await expect(run.run(steps.detectFailures, 'detect')).resolves.toMatchObject({ down: [] });
  });

  it('keeps a script that failed in a way no parser knows (psql refused: the coordinator starts up) the same way', async () => {
    const id = `t${++n}`;
    await h.seed(id);
    const run = execution(id);
    await run.run(steps.startRecovery, 'start');
    unreadable = [
      new CoordinatorScriptFailed(
        'read gp_segment_configuration',
        'mdw',
        2,
        'psql: FATAL:  the database system is starting up\n',
      ),
    ];
    await expect(run.run(steps.detectFailures, 'detect')).rejects.toThrow(ClusterUnreadable);
    const kept = (await h.stores.events.read(id)).find((e) => e.type === 'ClusterAnswerUnreadable');
    expect(kept?.data).toMatchObject({
      problem: 'the script exited 2 on mdw',
      text: 'psql: FATAL:  the database system is starting up\n',
    });
  });

  it('fails the run as unreadable, not as the cluster, when the retries run out', async () => {
    const id = `t${++n}`;
    await h.seed(id);
    const run = execution(id);
    await run.run(steps.startRecovery, 'start');
    unreadable = [malformed()];
    const error = (await run.run(steps.detectFailures, 'detect').catch((e: unknown) => e)) as Error;
    run.state.errors = {
      detect: { Error: error.name, Cause: JSON.stringify({ errorMessage: error.message }) },
    };
    await run.run(steps.recordFailure, undefined);
    const state = await h.stores.events.loadState(id);
    expect(state.lastIncident).toMatchObject({ status: 'failed', phase: 'detect' });
    expect(state.lastIncident?.reason).toMatch(
      /^read gp_segment_configuration: pg_isready exit status 65 .*unreadable, retrying: recoverseg did not understand this answer, which says nothing about the cluster's health/,
    );
  });
});

describe('a plan in progress is not a plan done', () => {
  it('a planned mirror that fails again after its gprecoverseg ended gets a new plan (and a new gprecoverseg), never the finished one again', async () => {
    // Found by the model test: the identical plan was taken for one in progress, its finished
    // gprecoverseg found again by its key, and the run replanned for ever without an event.
    const id = `t${++n}`;
    await h.seed(id);
    await h.sim(id).crashSegment(5);
    const run = execution(id, { options: { type: 'full' } });
    await run.run(steps.startRecovery, 'start');
    await run.run(steps.detectFailures, 'detect');
    await run.run(steps.checkPromotion, 'promote');
    await run.run(steps.planRecoveryStep, 'plan');
    await run.run(steps.recoverSegments, 'operation');
    await h.sim(id).crashSegment(5);
    await run.run(steps.checkRecovery, 'operation');
    const replanned = await run.run(steps.checkSync, 'sync');
    expect(replanned).toMatchObject({ next: 'replan' });
    await run.run(steps.planRecoveryStep, 'plan');
    expect((await h.stores.events.loadState(id)).recovery?.plans).toBe(2);
    await run.run(steps.recoverSegments, 'operation');
    expect((await h.sim(id).readState()).operations.map((o) => o.kind)).toEqual([
      'recovery',
      'recovery',
    ]);
  });
});
