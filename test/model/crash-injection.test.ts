import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RecordedEvent } from '#domain/events.ts';
import { WORKFLOW_TASK_NAMES, type WorkflowTask } from '#infra/tasks.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { overrideRetryIntervals } from '#test/model/fast-retries.ts';
import {
  logProblems,
  registerCluster,
  simulatorProblems,
  startHarness,
  type ClusterUnderTest,
  type Harness,
} from '#test/model/harness.ts';
import { canonical } from '#test/model/properties.ts';

/*
 * Crash injection: every Task handler of the deployed workflow is made to fail before its
 * side effect (the invoke never reached it: `Lambda.ServiceException`) or after it (the
 * handler did its work but the response was lost: `Lambda.SdkClientException`), once or
 * several times in a row, on every invocation. The definition's Retry must carry the run to
 * the same end as a run without crashes, with exactly the same events: none missing, none
 * written twice.
 *
 *   RECOVERSEG_CRASH_EXHAUSTIVE=1  also crash each Task on its own (40 more runs)
 */
const EXHAUSTIVE = process.env.RECOVERSEG_CRASH_EXHAUSTIVE === '1';

type When = 'before' | 'after';
interface CrashPlan {
  name: string;
  /** The crashes of one invocation, attempt by attempt; then it succeeds. */
  attempts: When[];
  /** Only these Tasks crash (default: all of them). */
  tasks?: readonly WorkflowTask[];
}

const ONCE_BEFORE: CrashPlan = { name: 'once before the side effect', attempts: ['before'] };
const ONCE_AFTER: CrashPlan = { name: 'once after the side effect', attempts: ['after'] };
const THRICE_BEFORE: CrashPlan = {
  name: 'three times before the side effect',
  attempts: ['before', 'before', 'before'],
};
const THRICE_AFTER: CrashPlan = {
  name: 'three times after the side effect',
  attempts: ['after', 'after', 'after'],
};
/** Five failures in a row: the transient Retry allows six attempts after the first. */
const ALTERNATING: CrashPlan = {
  name: 'five times, alternating',
  attempts: ['after', 'before', 'after', 'before', 'after'],
};
const PLANS = [ONCE_BEFORE, ONCE_AFTER, THRICE_BEFORE, THRICE_AFTER, ALTERNATING];

class InjectedCrash extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

let harness: Harness;
let restoreRetries: () => void;
let clusters = 0;

beforeAll(async () => {
  restoreRetries = overrideRetryIntervals();
  harness = await startHarness(inject('dynamodbEndpoint'), 'crash');
});
afterAll(async () => {
  await harness?.stop();
  restoreRetries?.();
});

interface Incident {
  name: string;
  /** Incremental recovery of dbid 4 fails (WAL recycled): the run escalates it to full. */
  simulation: SimulationOptionsInput;
  fault: (cluster: ClusterUnderTest) => Promise<void>;
  expected: { status: 'succeeded' | 'failed'; error?: string };
  /** The crash plans of the default run (every plan with RECOVERSEG_CRASH_EXHAUSTIVE=1). */
  plans: CrashPlan[];
}

const INCIDENTS: Incident[] = [
  {
    name: 'the seed incident, with an escalation to full and a rebalance',
    simulation: { seed: 1, timeScale: 0, incrementalFailsFor: [4] },
    fault: (c) => c.sim.failHost('segment-2'),
    expected: { status: 'succeeded' },
    plans: [ONCE_BEFORE, ONCE_AFTER, THRICE_BEFORE, THRICE_AFTER],
  },
  {
    name: 'a double fault (RecordFailure)',
    simulation: { seed: 1, timeScale: 0 },
    fault: async (c) => {
      await c.sim.crashSegment(6);
      await c.sim.requestFtsProbe();
      await c.sim.crashSegment(2);
    },
    expected: { status: 'failed', error: 'DoubleFault' },
    plans: [THRICE_BEFORE, ALTERNATING],
  },
];

/** The facts of a run, without the times and keys that differ from run to run. */
function facts(events: RecordedEvent[]): unknown[] {
  return events.map((e) => {
    const data = { ...(e.data as Record<string, unknown>) };
    if (e.type === 'RecoveryCompleted') delete data.timings;
    return canonical({ seq: e.seq, type: e.type, data, state: e.causation.state });
  });
}

async function runIncident(incident: Incident, plan: CrashPlan | undefined) {
  const clusterId = `crash-${++clusters}`;
  const cluster = await registerCluster(
    harness.runtime,
    clusterId,
    structuredClone(seedScenario.segments),
    incident.simulation,
  );
  await incident.fault(cluster);
  const attempts = new Map<string, number>();
  const crashed = new Map<WorkflowTask, number>();
  harness.hook = plan
    ? (task, payload, when) => {
        if (plan.tasks && !plan.tasks.includes(task)) return;
        // A retry gets the very payload of the attempt it retries: that is one invocation.
        const key = `${task} ${JSON.stringify(payload)}`;
        const attempt = when === 'before' ? (attempts.get(key) ?? 0) + 1 : (attempts.get(key) ?? 1);
        if (when === 'before') attempts.set(key, attempt);
        if (plan.attempts[attempt - 1] !== when) return;
        crashed.set(task, (crashed.get(task) ?? 0) + 1);
        throw when === 'before'
          ? new InjectedCrash(
              'Lambda.ServiceException',
              `injected: ${task} failed before its handler ran (attempt ${attempt})`,
            )
          : new InjectedCrash(
              'Lambda.SdkClientException',
              `injected: ${task} ran, but its response was lost (attempt ${attempt})`,
            );
      }
    : undefined;
  try {
    const result = await harness.runtime.workflow.run({
      clusterId,
      incidentId: 'incident-1',
      trigger: { source: 'scenario' },
      options: { type: 'auto', rebalance: true },
      waits: { pollSeconds: 0 },
    });
    const events = await harness.runtime.stores.events.read(clusterId);
    return { result, events, crashed, cluster };
  } finally {
    harness.hook = undefined;
  }
}

describe('crash injection: every handler fails before and after its side effect', () => {
  for (const incident of INCIDENTS) {
    describe(incident.name, () => {
      let reference: Awaited<ReturnType<typeof runIncident>>;
      beforeAll(async () => {
        reference = await runIncident(incident, undefined);
      }, 60_000);

      it('ends as expected without crashes (the reference run)', async () => {
        expect(reference.result.status, JSON.stringify(reference.result.error)).toBe(
          incident.expected.status,
        );
        if (incident.expected.error)
          expect(reference.result.error?.name).toBe(incident.expected.error);
      });

      const plans = [
        ...(EXHAUSTIVE ? PLANS : incident.plans),
        ...(EXHAUSTIVE
          ? WORKFLOW_TASK_NAMES.flatMap((task) =>
              PLANS.slice(0, 4).map((p) => ({
                ...p,
                name: `${p.name}, ${task} only`,
                tasks: [task],
              })),
            )
          : []),
      ];
      for (const plan of plans)
        it(
          `resumes through Retry with the same events when each Task crashes ${plan.name}`,
          { timeout: 60_000 },
          async () => {
            const run = await runIncident(incident, plan);
            expect(run.result.status, JSON.stringify(run.result.error)).toBe(
              reference.result.status,
            );
            expect(run.result.error?.name).toBe(reference.result.error?.name);
            const invoked = new Set(reference.events.map((e) => e.causation.state).filter(Boolean));
            expect(run.crashed.size, 'crashes were injected').toBeGreaterThan(0);
            if (!plan.tasks)
              expect([...run.crashed.keys()].sort()).toEqual(
                expect.arrayContaining(
                  [...invoked].filter((s) => WORKFLOW_TASK_NAMES.includes(s as WorkflowTask)),
                ),
              );
            expect(facts(run.events)).toEqual(facts(reference.events));
            expect(await simulatorProblems(run.cluster)).toEqual([]);
            expect((await logProblems(harness.runtime, run.cluster.clusterId)).problems).toEqual(
              [],
            );
            expect(await harness.runtime.stores.lock.read(run.cluster.clusterId)).toBeUndefined();
          },
        );
    });
  }
});
