import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { planRecovery } from '#domain/decisions.ts';
import { fold } from '#domain/evolve.ts';
import { recoveryOptionsSchema, type RecoveryOptions } from '#domain/events.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { seedIncidentPhases, seedScenario } from '#test/fixtures/seed.ts';
import { overrideRetryIntervals } from '#test/model/fast-retries.ts';
import {
  registerCluster,
  startHarness,
  type ClusterUnderTest,
  type Harness,
  type TaskHook,
} from '#test/model/harness.ts';
import { buildTopology } from '#test/model/topology.ts';

/*
 * Minimal reproductions of the bugs the model and crash tests found, each asserting the
 * behaviour DESIGN.md and GREENPLUM.md ask for.
 */

let harness: Harness;
let restoreRetries: () => void;
let n = 0;

beforeAll(async () => {
  restoreRetries = overrideRetryIntervals();
  harness = await startHarness(inject('dynamodbEndpoint'), 'bugs');
});
afterAll(async () => {
  await harness?.stop();
  restoreRetries?.();
});

async function incident(
  segments: SegmentRow[],
  simulation: SimulationOptionsInput,
  fault: (c: ClusterUnderTest) => Promise<void>,
) {
  const cluster = await registerCluster(harness.runtime, `bug-${++n}`, segments, {
    timeScale: 0,
    ...simulation,
  });
  await fault(cluster);
  return cluster;
}

async function run(
  cluster: ClusterUnderTest,
  options: Partial<RecoveryOptions>,
  hook?: TaskHook,
  incidentId = 'i1',
) {
  harness.hook = hook;
  try {
    return await harness.runtime.workflow.run({
      clusterId: cluster.clusterId,
      incidentId,
      trigger: { source: 'scenario' },
      options,
      waits: { pollSeconds: 0 },
    });
  } finally {
    harness.hook = undefined;
  }
}

describe('regressions found by the model and crash tests', () => {
  it('1. a forced full recovery with target hosts relocates (gprecoverseg -F -p), not in place', async () => {
    const [registration, failure] = seedIncidentPhases();
    const state = fold([...registration, ...failure]);
    const plan = planRecovery(
      state,
      recoveryOptionsSchema.parse({ type: 'full', targetHosts: { 'segment-2': 'segment-9' } }),
    );
    expect(plan.map((i) => i.target?.hostname)).toEqual([
      'segment-9',
      'segment-9',
      'segment-9',
      'segment-9',
    ]);
    // End to end: segment-2 stays powered off; relocation is the only way back.
    const cluster = await incident(
      structuredClone(seedScenario.segments),
      { hostRestartSeconds: null },
      (c) => c.sim.failHost('segment-2'),
    );
    const result = await run(cluster, { type: 'full', targetHosts: { 'segment-2': 'segment-9' } });
    expect(result.error).toBeUndefined();
  });

  it('2. a run does not succeed while contents are double faulted (fault during the sync wait)', async () => {
    const topology = buildTopology({
      hosts: 1,
      primariesPerHost: 3,
      mirroring: 'group',
      standby: false,
    });
    const cluster = await incident(topology.segments, {}, (c) => c.sim.crashSegment(2));
    let injected = false;
    const result = await run(cluster, {}, async (task, _payload, when) => {
      if (task !== 'CheckSync' || when !== 'before' || injected) return;
      injected = true;
      await cluster.sim.failHost('sdw1');
    });
    const state = await harness.runtime.stores.events.loadState(cluster.clusterId);
    expect(state.doubleFaults).toEqual([0, 1, 2]);
    // The whole cluster is down: RecoveryCompleted must not be written.
    expect(result.status).toBe('failed');
  });

  it('3. the log explains a mirror recovered, synchronized and promoted between two observations', async () => {
    const cluster = await incident(structuredClone(seedScenario.segments), {}, (c) =>
      c.sim.failHost('segment-2'),
    );
    let injected = false;
    // gprecoverseg brought dbid 6 back and FTS saw it in sync; then its primary, dbid 2, dies
    // and FTS promotes dbid 6, all before CheckRecovery looks.
    const first = await run(cluster, {}, async (task, _payload, when) => {
      if (task !== 'CheckRecovery' || when !== 'before' || injected) return;
      injected = true;
      await cluster.sim.crashSegment(2);
    });
    expect(first.error?.name).not.toBe('UnexplainedConfiguration');
    // Once every later run was refused at detect: the cluster was wedged for recoverseg.
    const second = await run(cluster, {}, undefined, 'i2');
    expect(second.error?.name).not.toBe('UnexplainedConfiguration');
  });

  it('4. the escalation to full keeps the relocation of a host the first round emptied', async () => {
    // sdw1: primary of content 0 and mirror of content 2; sdw3: mirror of content 1.
    const topology = buildTopology({
      hosts: 3,
      primariesPerHost: 1,
      mirroring: 'group',
      standby: false,
    });
    const cluster = await incident(topology.segments, {}, async (c) => {
      await c.sim.failHost('sdw1');
      await c.sim.loseDataDirectory(6);
    });
    const result = await run(cluster, { targetHosts: { sdw1: 'spare1' } });
    // Once: RecoveryNotPossible "host sdw1 is not in the configuration" in phase plan.
    expect(result.error).toBeUndefined();
  });
});
