import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { NewEvent, RecordedEvent } from '#domain/events.ts';
import { workflowInputSchema, type WorkflowInput } from '#domain/step-contract.ts';
import { ClusterLocked } from '#store/errors.ts';
import { ConcurrencyError } from '#store/errors.ts';
import { startFromTrigger } from '#app/start-from-trigger.ts';
import { startRecovery } from '#app/steps.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { overrideRetryIntervals } from '#test/model/fast-retries.ts';
import { logProblems, registerCluster, startHarness, type Harness } from '#test/model/harness.ts';

/*
 * Races on the real store and the local workflow: concurrent appenders to one stream, a storm
 * of triggers for one incident, and a second incident while a recovery runs.
 */

let harness: Harness;
let restoreRetries: () => void;

beforeAll(async () => {
  restoreRetries = overrideRetryIntervals();
  harness = await startHarness(inject('dynamodbEndpoint'), 'races');
});
afterAll(async () => {
  await harness?.stop();
  restoreRetries?.();
});

const at = () => new Date().toISOString();
const seedSegments = () => structuredClone(seedScenario.segments);

/** Events of one writer that fold on any state without a recovery in progress. */
function writerEvents(writer: number, pairs: number): NewEvent[] {
  return Array.from({ length: pairs }, (_, i): NewEvent[] => [
    {
      type: 'RecoveryRequested',
      data: {
        incidentId: `w${writer}-${i}`,
        trigger: { source: 'api' },
        options: { type: 'auto', targetHosts: {}, rebalance: true, dryRun: false, replayLagGb: 10 },
      },
    },
    {
      type: 'RecoveryFailed',
      data: { incidentId: `w${writer}-${i}`, phase: 'start', reason: `writer ${writer}` },
    },
  ]).flat();
}

describe('50 concurrent appenders to one stream', () => {
  it(
    'lose nothing and duplicate nothing, batches stay whole, retries are idempotent',
    { timeout: 60_000 },
    async () => {
      const { events } = harness.runtime.stores;
      const clusterId = 'race-append';
      await registerCluster(harness.runtime, clusterId, seedSegments(), { timeScale: 0 });
      const writers = 50;
      // Two writers append 120 events each: two transactions under a pending marker.
      const sizes = Array.from({ length: writers }, (_, w) => (w % 25 === 0 ? 60 : 1));
      let conflicts = 0;
      const results = await Promise.all(
        sizes.map(async (pairs, w) => {
          const batch = writerEvents(w, pairs);
          for (let attempt = 0; ; attempt++) {
            const state = await events.loadState(clusterId);
            try {
              const first = await events.append(clusterId, batch, {
                expectedSeq: state.seq,
                idempotencyKey: `writer-${w}`,
                at: at(),
                state,
              });
              // The same append again (a retried Lambda): written once, the first seqs returned.
              const again = await events.append(clusterId, batch, {
                expectedSeq: state.seq,
                idempotencyKey: `writer-${w}`,
                at: at(),
                state,
              });
              expect(again).toEqual({ ...first, duplicate: true });
              return first;
            } catch (error) {
              if (!(error instanceof ConcurrencyError)) throw error;
              conflicts++;
              // Exponential backoff with full jitter, as the workflow's Retry does.
              await sleep(Math.random() * Math.min(1000, 20 * 2 ** Math.min(attempt, 8)));
            }
          }
        }),
      );
      const log = await events.read(clusterId);
      const total = 1 + sizes.reduce((a, p) => a + 2 * p, 0);
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      for (const [w, pairs] of sizes.entries()) {
        const mine = log.filter((e) => e.idempotencyKey === `writer-${w}`);
        expect(
          mine.map((e) => e.data),
          `writer ${w}`,
        ).toEqual(writerEvents(w, pairs).map((e) => e.data));
        // A batch is atomic: its events are consecutive, at the seqs its append returned.
        expect(mine.map((e) => e.seq)).toEqual(
          Array.from({ length: 2 * pairs }, (_, i) => results[w]!.firstSeq + i),
        );
      }
      expect(conflicts, 'the writers really raced').toBeGreaterThan(0);
      expect((await logProblems(harness.runtime, clusterId)).problems).toEqual([]);
    },
  );
});

describe('100 concurrent triggers for one incident', () => {
  const ec2Event = (second: number) => ({
    source: 'aws.ec2',
    'detail-type': 'EC2 Instance State-change Notification',
    time: `2025-01-15T10:0${Math.floor(second / 60)}:${String(second % 60).padStart(2, '0')}Z`,
    detail: {
      'instance-id': 'i-0123456789abcdef0',
      state: second % 2 === 0 ? 'stopping' : 'stopped',
    },
  });

  it(
    'start exactly one execution, which recovers the cluster once',
    { timeout: 60_000 },
    async () => {
      const clusterId = 'race-trigger';
      const cluster = await registerCluster(harness.runtime, clusterId, seedSegments(), {
        timeScale: 0,
      });
      await cluster.sim.failHost('segment-2');
      const tagsOf = async () => ({
        'recoverseg:cluster': clusterId,
        'recoverseg:host': 'segment-2',
      });
      const { workflow } = harness.runtime;
      // A trigger's execution polls every 30 s (the input's default); here without waiting. It
      // would wait for a rebalance approval (a trigger's default policy); this test is about
      // the storm, so the run rebalances at once.
      const starter = {
        describe: (arn: string) => workflow.describe(arn),
        stop: (arn: string) => workflow.stop(arn),
        start: (input: WorkflowInput) =>
          workflow.start({
            ...input,
            options: { ...input.options, rebalancePolicy: 'immediate' },
            waits: { pollSeconds: 0, approvalPollSeconds: 0 },
          }),
      };
      const deps = { stores: harness.runtime.stores, starter, tagsOf, now: () => new Date() };
      // Alarms and instance state changes within one incident window, all at once.
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => startFromTrigger(ec2Event(i * 5), deps)),
      );
      const started = results.filter((r) => r.started);
      expect(started).toHaveLength(100);
      const fresh = started.filter((r) => r.started && !r.alreadyStarted);
      expect(fresh).toHaveLength(1);
      expect(new Set(started.map((r) => r.started && r.executionName)).size).toBe(1);
      await harness.runtime.workflow.settle();
      const result = await harness.runtime.workflow.result(
        fresh[0]!.started ? fresh[0]!.executionName : '',
      )!;
      expect(result.status, JSON.stringify(result.error)).toBe('succeeded');
      const log = await harness.runtime.stores.events.read(clusterId);
      expect(log.filter((e) => e.type === 'RecoveryRequested')).toHaveLength(1);
      expect(log.filter((e) => e.type === 'RecoveryCompleted')).toHaveLength(1);
      expect((await logProblems(harness.runtime, clusterId)).problems).toEqual([]);
    },
  );

  it(
    'let one of 100 executions that slipped through for one incident hold the cluster',
    { timeout: 60_000 },
    async () => {
      const clusterId = 'race-lock';
      await registerCluster(harness.runtime, clusterId, seedSegments(), { timeScale: 0 });
      const input = workflowInputSchema.parse({
        clusterId,
        incidentId: 'storm',
        trigger: { source: 'alarm' },
        options: {},
      });
      const deps = { ...harness.runtime.steps, notifier: { notify: async () => {} } };
      const outcomes = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) =>
          startRecovery(deps, { executionId: `exec-${i}`, input }),
        ),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const o of outcomes)
        if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ClusterLocked);
      const log = await harness.runtime.stores.events.read(clusterId);
      expect(log.filter((e) => e.type === 'RecoveryRequested')).toHaveLength(1);
      const lock = await harness.runtime.stores.lock.read(clusterId);
      expect(log.at(-1)?.causation.executionId).toBe(lock?.holder);
    },
  );
});

describe('a second incident during a running recovery', () => {
  /** Runs incident A and, once A has started gprecoverseg, incident B on the same cluster. */
  /**
   * A second incident B started while A is inside gprecoverseg. A is held there until B has
   * been turned away twice (`turned-away`), or until B has ended (`b-ended`): the latter makes
   * B's outcome independent of how fast either run goes on a busy machine.
   */
  async function overlap(clusterId: string, holdA: 'turned-away' | 'b-ended' = 'turned-away') {
    const cluster = await registerCluster(harness.runtime, clusterId, seedSegments(), {
      timeScale: 0,
    });
    await cluster.sim.failHost('segment-2');
    const { workflow } = harness.runtime;
    const input = (incidentId: string) => ({
      clusterId,
      incidentId,
      trigger: { source: 'api' as const },
      options: {},
      waits: { pollSeconds: 0 },
    });
    let second: ReturnType<typeof workflow.run> | undefined;
    let bAttempts = 0;
    harness.hook = async (task, payload, when) => {
      const incidentId = (payload as { input: { incidentId: string } }).input.incidentId;
      if (incidentId === 'B' && task === 'StartRecovery' && when === 'before') bAttempts++;
      if (incidentId !== 'A' || task !== 'CheckRecovery' || when !== 'before' || second) return;
      second = workflow.run(input('B'));
      while (
        (holdA === 'b-ended' || bAttempts < 2) &&
        !(await Promise.race([second.then(() => true), sleep(5).then(() => false)]))
      );
    };
    try {
      const first = await workflow.run(input('A'));
      return {
        first,
        second: await second!,
        log: await harness.runtime.stores.events.read(clusterId),
        bAttempts,
      };
    } finally {
      harness.hook = undefined;
    }
  }

  /** No event of one incident's execution between the first and the last event of another's. */
  function interleavings(log: RecordedEvent[]): string[] {
    const spans = new Map<string, [number, number]>();
    for (const e of log) {
      const id = e.causation.executionId;
      if (!id) continue;
      const span = spans.get(id);
      spans.set(id, span ? [span[0], e.seq] : [e.seq, e.seq]);
    }
    const problems: string[] = [];
    for (const e of log)
      for (const [id, [from, to]] of spans)
        if (e.causation.executionId && e.causation.executionId !== id && e.seq > from && e.seq < to)
          problems.push(
            `seq ${e.seq} (${e.type}) of ${e.causation.executionId} falls inside ${id} (seq ${from}..${to})`,
          );
    return problems;
  }

  it(
    'is refused clearly when the cluster stays locked through its retries, and never interleaves',
    { timeout: 60_000 },
    async () => {
      const { first, second, log } = await overlap('race-refused', 'b-ended');
      expect(first.status, JSON.stringify(first.error)).toBe('succeeded');
      expect(second.status).toBe('failed');
      expect(second.error?.name).toBe('ClusterLocked');
      expect(second.error?.message).toMatch(
        /cluster race-refused is being recovered by .*race-refused--A.*one recovery at a time/,
      );
      // B never owned the recovery: not one event of it in the log.
      expect(log.filter((e) => e.causation.executionId?.includes('--B'))).toEqual([]);
      expect(log.filter((e) => e.type === 'RecoveryRequested').map((e) => e.data)).toMatchObject([
        { incidentId: 'A' },
      ]);
      expect(interleavings(log)).toEqual([]);
      expect(await harness.runtime.stores.lock.read('race-refused')).toBeUndefined();
    },
  );

  it(
    'waits for the running recovery when its retries outlast it, then runs after it',
    { timeout: 60_000 },
    async () => {
      // ClusterLocked is retried every 400 ms here (30 s with backoff in AWS), 10 times.
      const restore = overrideRetryIntervals({ StartRecovery: [400, 0] });
      try {
        const { first, second, log, bAttempts } = await overlap('race-waits');
        expect(bAttempts, 'B was turned away while A ran').toBeGreaterThanOrEqual(2);
        expect(first.status, JSON.stringify(first.error)).toBe('succeeded');
        expect(second.status, JSON.stringify(second.error)).toBe('succeeded');
        const requested = log
          .filter((e) => e.type === 'RecoveryRequested')
          .map((e) => (e.data as { incidentId: string }).incidentId);
        expect(requested).toEqual(['A', 'B']);
        const completedA = log.find(
          (e) => e.type === 'RecoveryCompleted' && e.data.incidentId === 'A',
        )!;
        const requestedB = log.find(
          (e) => e.type === 'RecoveryRequested' && e.data.incidentId === 'B',
        )!;
        expect(requestedB.seq).toBeGreaterThan(completedA.seq);
        expect(log.at(-1)).toMatchObject({
          type: 'RecoveryCompleted',
          data: { incidentId: 'B', outcome: 'nothing-to-do' },
        });
        expect(interleavings(log)).toEqual([]);
        expect((await logProblems(harness.runtime, 'race-waits')).problems).toEqual([]);
      } finally {
        restore();
      }
    },
  );
});
