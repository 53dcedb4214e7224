import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import fc from 'fast-check';
import { configurationOf } from '#domain/evolve.ts';
import { recoveryOptionsSchema, type RecoveryOptions } from '#domain/events.ts';
import { pairsOf } from '#domain/segment.ts';
import { workflowInputSchema } from '#domain/step-contract.ts';
import { probe } from '#cluster/simulated/timeline.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import { detectFailures } from '#app/steps.ts';
import { overrideRetryIntervals } from '#test/model/fast-retries.ts';
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
 * after every run what the run must have ended in.
 *
 *   RECOVERSEG_MODEL_RUNS   number of fast-check runs (default 200; `npm run soak` 10000)
 *   RECOVERSEG_MODEL_SEED   replay a seed printed by a failure (with RECOVERSEG_MODEL_PATH)
 */
const RUNS = Number(process.env.RECOVERSEG_MODEL_RUNS ?? 200);
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

interface Real {
  harness: Harness;
  cluster: ClusterUnderTest;
  topology: Topology;
  serial: number;
  checkedSeq: number;
  incidents: number;
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
      `${stats.observations} observations; outcomes ${JSON.stringify(stats.outcomes)}; ms per step ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, `${v.n}x${Math.round(v.ms / v.n)}`])))}`,
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

class Probe implements fc.AsyncCommand<Model, Real> {
  check = always;
  async run(_model: Model, real: Real) {
    await real.cluster.sim.requestFtsProbe();
    await checkInvariants(real);
  }
  toString = () => 'Probe';
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
    await checkInvariants(real);
    const logged = configurationOf(await runtime.stores.events.loadState(real.cluster.clusterId));
    const seen = (await real.cluster.sim.readConfiguration()).segments;
    expect(sameRows(logged, seen), 'after an observation the log shows the cluster').toBe(true);
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
}

class Recover implements fc.AsyncCommand<Model, Real> {
  constructor(readonly spec: RecoverSpec) {}
  check = always;

  async run(model: Model, real: Real) {
    const { runtime } = real.harness;
    const { clusterId, sim } = real.cluster;
    const incidentId = `r${++real.incidents}`;
    const before = await sim.readState();
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
    real.harness.hook = midRun
      ? async (task, payload, when) => {
          if (injected || when !== 'before' || task !== midRun.before) return;
          injected = true;
          stats.faultsMidRun++;
          await injectMidRun(real, midRun, payload);
        }
      : undefined;
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
          limits: { maxRecoveryPolls: 3, maxSyncPolls: 3, syncTimeoutSeconds: 60 },
        }),
      );
    } finally {
      real.harness.hook = undefined;
    }
    stats.executions++;
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

async function injectMidRun(real: Real, fault: MidRunFault, payload: unknown): Promise<void> {
  const { sim } = real.cluster;
  const catalog = (await sim.readState()).catalog;
  const planned =
    (payload as { input?: { plan?: { items?: { dbid: number }[] } } }).input?.plan?.items ?? [];
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
            const real: Real = { harness, cluster, topology, serial, checkedSeq: 1, incidents: 0 };
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
