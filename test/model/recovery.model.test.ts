import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import fc from 'fast-check';
import { configurationOf } from '#domain/evolve.ts';
import { recoveryOptionsSchema, type RecoveryOptions } from '#domain/events.ts';
import { pairsOf } from '#domain/segment.ts';
import { workflowInputSchema } from '#domain/step-contract.ts';
import { probe } from '#cluster/simulated/timeline.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import { detectFailures } from '#app/steps.ts';
import { overrideRetryIntervals, setPace } from '#test/model/fast-retries.ts';
import {
  logProblems,
  registerCluster,
  simulatorProblems,
  startHarness,
  type ClusterUnderTest,
  type Harness,
} from '#test/model/harness.ts';
import { predictRun, type Prediction } from '#test/model/oracle.ts';
import { healthProblems, sameRows } from '#test/model/properties.ts';
import {
  buildTopology,
  simulationOptions,
  simulationSpecArb,
  topologySpecArb,
  type Topology,
} from '#test/model/topology.ts';

/*
 * Model-based test of the whole system: random clusters (1 to 8 hosts, group and spread
 * mirroring) under random faults, FTS probes, observations and recovery runs of the deployed
 * workflow on the local runtime, checking after every command what must always hold, and
 * after every run what the run must have ended in. In some clusters a promotion takes a few
 * ms of clock time (capture 103): probes, observations and runs then read promoted mirrors
 * still answering "mirror ready", after failovers and in every rebalance.
 *
 *   RECOVERSEG_MODEL_RUNS   number of fast-check runs (default 40, which keeps `npm test` under
 *                           two minutes with the watcher's e2e and the SDK-bundled synth; `npm
 *                           run soak` 10000)
 *   RECOVERSEG_MODEL_SEED   replay a seed printed by a failure (with RECOVERSEG_MODEL_PATH)
 */
const RUNS = Number(process.env.RECOVERSEG_MODEL_RUNS ?? 40);
const SEED =
  process.env.RECOVERSEG_MODEL_SEED === undefined
    ? undefined
    : Number(process.env.RECOVERSEG_MODEL_SEED);
const PATH = process.env.RECOVERSEG_MODEL_PATH;

interface Model {
  /** Hosts failed since the last successful recovery: what an EC2 trigger would name. */
  failedHosts: Set<string>;
}

const always = () => true;

/**
 * More Task invocations than any run can legitimately take (a promotion waited for 15 times,
 * 20 polls per gprecoverseg, a few plans, a rebalance): a run past it loops without end.
 */
const MAX_TASKS_PER_RUN = 600;

interface Real {
  harness: Harness;
  cluster: ClusterUnderTest;
  topology: Topology;
  serial: number;
  checkedSeq: number;
  incidents: number;
  /** Clock ms a promotion lasts; 0 in zero-time mode. */
  promotionWindowMs: number;
}

const timings: Record<string, { n: number; ms: number }> = {};
async function timed<T>(name: string, f: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await f();
  } finally {
    const entry = (timings[name] ??= { n: 0, ms: 0 });
    entry.n++;
    entry.ms += performance.now() - t;
  }
}
const stats = {
  runs: 0,
  commands: 0,
  executions: 0,
  succeeded: 0,
  failed: 0,
  predicted: 0,
  faultsMidRun: 0,
  observations: 0,
  outcomes: {} as Record<string, number>,
  /** Runs whose promotions take clock time, and what met a promotion under way. */
  windowRuns: 0,
  /** Probes and observations that read an acting primary still answering "mirror ready". */
  windowReads: 0,
  /** Workflow executions during which some read found a promotion under way (PromotionPending). */
  executionsInWindow: 0,
  /** gprecoverseg runs that waited for a promotion to end, by kind. */
  waited: { recovery: 0, rebalance: 0 },
};

let harness: Harness;
let restoreRetries: () => void;
let serial = 0;

beforeAll(async () => {
  restoreRetries = overrideRetryIntervals();
  harness = await startHarness(inject('dynamodbEndpoint'), 'model');
});
afterAll(async () => {
  await harness?.stop();
  restoreRetries?.();
  console.log(
    `model: ${stats.runs} runs, ${stats.commands} commands, ${stats.executions} workflow executions ` +
      `(${stats.succeeded} succeeded, ${stats.failed} failed; ${stats.predicted} checked against the oracle; ${stats.faultsMidRun} with a fault injected mid-run), ` +
      `${stats.observations} observations; outcomes ${JSON.stringify(stats.outcomes)}; ` +
      `promotion windows: ${stats.windowRuns} runs, ${stats.windowReads} probes/observations and ${stats.executionsInWindow} executions met one (${harness?.errors.PromotionPending ?? 0} PromotionPending), gprecoverseg waited ${JSON.stringify(stats.waited)}; ` +
      `ms per step ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, `${v.n}x${Math.round(v.ms / v.n)}`])))}`,
  );
});

function fail(problems: string[]): void {
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

/** What must hold after every command. The log checks run when the log moved. */
async function checkInvariants(real: Real): Promise<void> {
  stats.commands++;
  fail(await timed('checkSimulator', () => simulatorProblems(real.cluster)));
  const head = (await real.harness.runtime.stores.events.readHead(real.cluster.clusterId)).lastSeq;
  if (head !== real.checkedSeq) {
    fail(
      (
        await timed('checkLog', () =>
          logProblems(real.harness.runtime, real.cluster.clusterId, { rebuild: false }),
        )
      ).problems,
    );
    real.checkedSeq = head;
  }
}

const segmentHosts = (rows: { hostname: string; content: number }[]) =>
  [...new Set(rows.filter((r) => r.content >= 0).map((r) => r.hostname))].sort();

class FailHost implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = always;
  async run(model: Model, real: Real) {
    const hosts = segmentHosts((await real.cluster.sim.readState()).catalog);
    const host = hosts[this.pick % hosts.length]!;
    await timed('fault', () => real.cluster.sim.failHost(host));
    model.failedHosts.add(host);
    await checkInvariants(real);
  }
  toString = () => `FailHost(#${this.pick})`;
}

class RestoreHost implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = always;
  async run(_model: Model, real: Real) {
    const down = Object.keys((await real.cluster.sim.readState()).downHosts).sort();
    if (down.length === 0) return;
    await real.cluster.sim.restoreHost(down[this.pick % down.length]!);
    await checkInvariants(real);
  }
  toString = () => `RestoreHost(#${this.pick})`;
}

type Fault = 'crash' | 'disk-lost';

class SegmentFault implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly role: 'primary' | 'mirror',
    readonly kind: Fault,
  ) {}
  check = always;
  async run(_model: Model, real: Real) {
    const pairs = pairsOf((await real.cluster.sim.readState()).catalog);
    const pair = pairs[this.pick % pairs.length]!;
    const dbid = this.role === 'primary' ? pair.primary.dbid : pair.mirror!.dbid;
    if (this.kind === 'crash') await real.cluster.sim.crashSegment(dbid);
    else await real.cluster.sim.loseDataDirectory(dbid);
    await checkInvariants(real);
  }
  toString = () => `SegmentFault(${this.kind} ${this.role} of content #${this.pick})`;
}

/**
 * What a read during a promotion window must show (capture 103): the promoted mirror is acting
 * primary in the catalog, alive (never unresponsive, never a double fault), without a walsender.
 */
async function checkPromotionWindow(real: Real): Promise<number[]> {
  const { segments, unresponsive, notReady, doubleFaults } =
    await real.cluster.sim.readConfiguration();
  const promoting = notReady.map((n) => n.dbid);
  if (promoting.length === 0) return [];
  stats.windowReads++;
  const problems: string[] = [];
  for (const { dbid, answer } of notReady) {
    const row = segments.find((r) => r.dbid === dbid);
    if (row?.role !== 'p' || row.status !== 'u')
      problems.push(`notReady dbid ${dbid} is not an acting primary marked up`);
    if (answer !== 'mirror-ready')
      problems.push(`dbid ${dbid} answers ${answer}, not mirror-ready`);
    if (unresponsive.includes(dbid))
      problems.push(`dbid ${dbid} is both notReady and unresponsive`);
    if (doubleFaults.some((f) => f.primaryDbid === dbid))
      problems.push(`dbid ${dbid}, alive and being promoted, is counted a double fault`);
  }
  for (const r of await real.cluster.sim.readReplication())
    if (promoting.includes(r.primaryDbid) && r.state !== undefined)
      problems.push(
        `content ${r.content}: dbid ${r.primaryDbid} has a walsender (${r.state}) before its promotion ended`,
      );
  fail(problems);
  return promoting;
}

class Probe implements fc.AsyncCommand<Model, Real> {
  check = always;
  async run(_model: Model, real: Real) {
    await real.cluster.sim.requestFtsProbe();
    // At once: inside the window of any promotion this probe started.
    await checkPromotionWindow(real);
    await checkInvariants(real);
  }
  toString = () => 'Probe';
}

/**
 * An acting primary crashes and FTS probes at once, as a query hitting it would make it
 * (capture 103's setup): its mirror, if in sync, is promoted, and read inside the window.
 */
class FailOver implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = always;
  async run(_model: Model, real: Real) {
    const pairs = pairsOf((await real.cluster.sim.readState()).catalog);
    await real.cluster.sim.crashSegment(pairs[this.pick % pairs.length]!.primary.dbid);
    await real.cluster.sim.requestFtsProbe();
    await checkPromotionWindow(real);
    await checkInvariants(real);
  }
  toString = () => `FailOver(content #${this.pick})`;
}

/** DetectFailures outside a run: the log catches up with what the cluster shows. */
class Observe implements fc.AsyncCommand<Model, Real> {
  check = always;
  async run(model: Model, real: Real) {
    stats.observations++;
    const { runtime } = real.harness;
    const input = workflowInputSchema.parse({
      clusterId: real.cluster.clusterId,
      incidentId: 'observe',
      trigger: { source: 'cli' },
      options: {},
    });
    await timed('observe', () =>
      detectFailures(
        { ...runtime.steps, notifier: { notify: async () => {} } },
        { executionId: `observe-${real.serial}-${stats.observations}`, input },
      ),
    );
    const promoting = await checkPromotionWindow(real);
    await checkInvariants(real);
    const state = await runtime.stores.events.loadState(real.cluster.clusterId);
    const logged = configurationOf(state);
    const seen = (await real.cluster.sim.readConfiguration()).segments;
    expect(sameRows(logged, seen), 'after an observation the log shows the cluster').toBe(true);
    const contents = seen.filter((r) => promoting.includes(r.dbid)).map((r) => r.content);
    expect(
      state.doubleFaults.filter((c) => contents.includes(c)),
      'a content whose promoted mirror still answers "mirror ready" is recorded as double faulted',
    ).toEqual([]);
  }
  toString = () => 'Observe';
}

interface MidRunFault {
  before: WorkflowTask;
  target: 'recovering' | 'source';
  kind: Fault | 'host';
}

interface RecoverSpec {
  type: RecoveryOptions['type'];
  rebalance: boolean;
  dryRun: boolean;
  relocate: boolean;
  declareFailedHosts: boolean;
  midRun: MidRunFault | undefined;
  /**
   * The fault whose alarm starts this run, in clusters whose promotions take time: the acting
   * primary of in-sync pair #n crashes just before, so the run's own probe makes FTS promote,
   * and the run reads that promotion's window.
   */
  alarm: number | undefined;
}

class Recover implements fc.AsyncCommand<Model, Real> {
  constructor(readonly spec: RecoverSpec) {}
  check = always;

  async run(model: Model, real: Real) {
    const { runtime } = real.harness;
    const { clusterId, sim } = real.cluster;
    const incidentId = `r${++real.incidents}`;
    // With promotions taking clock time, a gprecoverseg a failed run left waiting for one may
    // still hold its lock: an operator lets it end before recovering again.
    for (let i = 0; i < 100 && (await sim.runningGprecoverseg()); i++) await sleep(10);
    // Only where promotions take time: elsewhere it is a crash before a run, which the other
    // commands already make.
    if (this.spec.alarm !== undefined && real.promotionWindowMs > 0) {
      const inSync = pairsOf((await sim.readState()).catalog).filter((p) => p.primary.mode === 's');
      if (inSync.length > 0)
        await sim.crashSegment(inSync[this.spec.alarm % inSync.length]!.primary.dbid);
    }
    const before = await sim.readState();
    const startedAt = before.now;
    const pendingBefore = real.harness.errors.PromotionPending ?? 0;
    const targetHosts: Record<string, string> = {};
    if (this.spec.relocate) {
      const failedMirrorHosts = segmentHosts(
        probe(before, before.now).catalog.filter((r) => r.role === 'm' && r.status === 'd'),
      );
      failedMirrorHosts
        .slice(0, 2)
        .forEach((host, k) => (targetHosts[host] = `spare-${real.serial}-${real.incidents}-${k}`));
    }
    const options = recoveryOptionsSchema.parse({
      type: this.spec.type,
      targetHosts,
      rebalance: this.spec.rebalance,
      dryRun: this.spec.dryRun,
    });
    const failedHosts = this.spec.declareFailedHosts ? [...model.failedHosts].sort() : [];
    const prediction = predictRun(before, options, failedHosts);

    let injected = false;
    const midRun = this.spec.midRun;
    const tasks: WorkflowTask[] = [];
    real.harness.hook = async (task, payload, when) => {
      if (when !== 'before') return;
      tasks.push(task);
      // A run that never ends would hang the whole test without a seed to replay: past any
      // legitimate length it is cut short (every Task from here on fails, RecordFailure too).
      if (tasks.length > MAX_TASKS_PER_RUN)
        throw new Error(`runaway execution: over ${MAX_TASKS_PER_RUN} Task invocations`);
      if (!midRun || injected || task !== midRun.before) return;
      injected = true;
      stats.faultsMidRun++;
      await injectMidRun(real, midRun);
    };
    let result;
    try {
      result = await timed('workflow', () =>
        runtime.workflow.run({
          clusterId,
          incidentId,
          trigger: { source: 'scenario', detail: 'model' },
          options,
          failedHosts,
          waits: { pollSeconds: 0 },
          // A rebalance's gprecoverseg runs through its promotions' window: polled every
          // eighth of a window (the pace), 20 polls outlast it.
          limits: {
            maxRecoveryPolls: real.promotionWindowMs ? 20 : 3,
            maxSyncPolls: 3,
            syncTimeoutSeconds: 60,
          },
        }),
      );
    } finally {
      real.harness.hook = undefined;
    }
    stats.executions++;
    if (tasks.length > MAX_TASKS_PER_RUN)
      throw new Error(
        `run ${incidentId} (${JSON.stringify(options)}) did not end: ${MAX_TASKS_PER_RUN} Task invocations, the last ones ${tasks.slice(-12).join(' ')}; events on record: ${(
          await runtime.stores.events.read(clusterId)
        )
          .slice(-8)
          .map((e) => `${e.seq}:${e.type}`)
          .join(' ')}`,
      );
    if ((real.harness.errors.PromotionPending ?? 0) > pendingBefore) stats.executionsInWindow++;
    for (const op of (await sim.readState()).operations)
      if (op.startedAt >= startedAt && (op.waitedUntil ?? op.startedAt) > op.startedAt)
        stats.waited[op.kind]++;
    // Nothing stops a model run: it succeeds or fails.
    stats[result.status as 'succeeded' | 'failed']++;
    const key = result.status === 'succeeded' ? 'succeeded' : `${result.error?.name}`;
    stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;

    await checkInvariants(real);
    const state = await runtime.stores.events.loadState(clusterId);
    const context = `run ${incidentId} (${JSON.stringify(options)}, failedHosts ${JSON.stringify(failedHosts)}) predicted ${JSON.stringify(prediction)}, got ${result.status} ${JSON.stringify(result.error ?? null)}`;
    expect(state.recovery, `${context}: the run left its recovery open in the log`).toBeUndefined();
    expect(
      await runtime.stores.lock.read(clusterId),
      `${context}: the run kept the cluster lock`,
    ).toBeUndefined();
    expect(state.lastIncident?.incidentId, `${context}: the log does not close the incident`).toBe(
      incidentId,
    );

    if (result.status === 'failed') {
      expect(result.error?.name, context).toBeTruthy();
      expect(result.error?.message, context).toBeTruthy();
      expect(state.lastIncident, context).toMatchObject({
        status: 'failed',
        phase: expect.any(String),
        reason: expect.stringMatching(/\S/),
      });
    } else {
      expect(state.lastIncident?.status, context).toBe('succeeded');
      if (!options.dryRun) {
        const seen = (await sim.readConfiguration()).segments;
        fail([
          ...healthProblems(`${context}: the log`, configurationOf(state), options.rebalance),
          ...healthProblems(`${context}: the cluster`, seen, options.rebalance),
        ]);
        expect(
          sameRows(configurationOf(state), seen),
          `${context}: the log ends at the cluster's configuration`,
        ).toBe(true);
        expect(state.doubleFaults, context).toEqual([]);
        model.failedHosts.clear();
      }
    }
    if (!injected) checkPrediction(prediction, result, state.lastIncident, context);
  }

  toString = () => `Recover(${JSON.stringify(this.spec)})`;
}

function checkPrediction(
  prediction: Prediction,
  result: { status: string; error?: { name: string; message: string } | undefined },
  last: { status: string; phase?: string; reason?: string } | undefined,
  context: string,
): void {
  if (prediction.status === 'unknown') return;
  stats.predicted++;
  expect(result.status, `${context}: outcome`).toBe(prediction.status);
  if (prediction.status === 'failed') {
    expect(last?.phase, `${context}: phase`).toBe(prediction.phase);
    expect(result.error?.name, `${context}: error`).toBe(prediction.error);
  }
}

async function injectMidRun(real: Real, fault: MidRunFault): Promise<void> {
  const { sim, clusterId } = real.cluster;
  const catalog = (await sim.readState()).catalog;
  // The plan on record, if the run has made one (the execution's state holds only its size).
  const planned =
    (await real.harness.runtime.stores.events.loadState(clusterId)).recovery?.plan ?? [];
  const mirror =
    catalog.find((r) => r.dbid === planned[0]?.dbid) ??
    catalog.find((r) => r.content >= 0 && r.role === 'm');
  if (!mirror) return;
  const row =
    fault.target === 'recovering'
      ? mirror
      : catalog.find((r) => r.content === mirror.content && r.role === 'p')!;
  if (fault.kind === 'host') await sim.failHost(row.hostname);
  else if (fault.kind === 'crash') await sim.crashSegment(row.dbid);
  else await sim.loseDataDirectory(row.dbid);
}

const recoverSpecArb: fc.Arbitrary<RecoverSpec> = fc.record({
  type: fc.constantFrom<RecoveryOptions['type']>(
    'auto',
    'auto',
    'auto',
    'auto',
    'incremental',
    'differential',
    'full',
  ),
  rebalance: fc.constantFrom(true, true, true, false),
  dryRun: fc.constantFrom(false, false, false, false, false, false, false, true),
  relocate: fc.constantFrom(false, false, false, true),
  declareFailedHosts: fc.boolean(),
  midRun: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    {
      weight: 1,
      arbitrary: fc.record({
        before: fc.constantFrom<WorkflowTask>(
          'RecoverSegments',
          'CheckRecovery',
          'CheckSync',
          'RebalanceSegments',
        ),
        target: fc.constantFrom<MidRunFault['target']>('recovering', 'source'),
        kind: fc.constantFrom<MidRunFault['kind']>('crash', 'disk-lost', 'host'),
      }),
    },
  ),
  alarm: fc.option(fc.nat(), { nil: undefined, freq: 2 }),
});

const commandArb = fc.oneof(
  { arbitrary: fc.nat().map((n) => new FailHost(n)), weight: 3 },
  {
    arbitrary: fc
      .tuple(
        fc.nat(),
        fc.constantFrom<'primary' | 'mirror'>('primary', 'mirror'),
        fc.constantFrom<Fault>('crash', 'crash', 'disk-lost'),
      )
      .map(([n, r, k]) => new SegmentFault(n, r, k)),
    weight: 4,
  },
  { arbitrary: fc.nat().map((n) => new RestoreHost(n)), weight: 1 },
  { arbitrary: fc.nat().map((n) => new FailOver(n)), weight: 2 },
  { arbitrary: fc.constant(new Probe()), weight: 2 },
  { arbitrary: fc.constant(new Observe()), weight: 2 },
  { arbitrary: recoverSpecArb.map((s) => new Recover(s)), weight: 1 },
);

describe('model: random clusters, faults and recoveries on the local workflow', () => {
  it(
    `keeps every invariant over ${RUNS} random command sequences`,
    { timeout: Math.max(300_000, RUNS * 3_000) },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          topologySpecArb,
          simulationSpecArb,
          fc.commands([commandArb], { maxCommands: 6 }),
          async (topologySpec, simulationSpec, commands) => {
            stats.runs++;
            if (simulationSpec.promotionWindowMs > 0) stats.windowRuns++;
            // Each retry of a pending promotion, and each poll, takes an eighth of a window:
            // 14 retries, or 20 polls, outlast a promotion (a rebalance's, 1.4 windows).
            const eighth = Math.ceil(simulationSpec.promotionWindowMs / 8);
            setPace(eighth ? { promotionPendingMs: eighth, pollMs: eighth } : undefined);
            const topology = buildTopology(topologySpec);
            const clusterId = `model-${++serial}`;
            const cluster = await timed('register', () =>
              registerCluster(
                harness.runtime,
                clusterId,
                topology.segments,
                simulationOptions(topology, simulationSpec),
              ),
            );
            // The registration is checked with the first change of the log.
            const real: Real = {
              harness,
              cluster,
              topology,
              serial,
              checkedSeq: 1,
              incidents: 0,
              promotionWindowMs: simulationSpec.promotionWindowMs,
            };
            await fc.asyncModelRun(
              () => ({ model: { failedHosts: new Set<string>() }, real }),
              commands,
            );
            // The same checks with a full rebuild of the projection from the log, once per run.
            if (real.checkedSeq > 1)
              fail(
                (await timed('checkRebuild', () => logProblems(harness.runtime, clusterId)))
                  .problems,
              );
          },
        ),
        {
          numRuns: RUNS,
          ...(SEED === undefined ? {} : { seed: SEED }),
          ...(PATH ? { path: PATH } : {}),
          endOnFailure: true,
        },
      );
    },
  );
});
