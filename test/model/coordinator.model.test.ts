import fc from 'fast-check';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import {
  activateStandby,
  decideActivation,
  fenceCoordinator,
  finishFailover,
  moveClients,
  startFailover,
} from '#app/failover.ts';
import { setCoordinatorPolicy, approveActivation } from '#app/coordinator-control.ts';
import { recordFailure, type StepDeps } from '#app/steps.ts';
import { watchCluster } from '#app/watch.ts';
import { coordinatorRows, isStreamingInSync } from '#domain/coordinator-fold.ts';
import type { RecordedEvent } from '#domain/events.ts';
import { fold } from '#domain/evolve.ts';
import { secondsBetween } from '#domain/iso-time.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { taskEventSchema } from '#domain/step-contract.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import { substituteTaskArns } from '#local/workflow-runner.ts';
import { createMemoryStores } from '#store/memory.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { memorySimulation } from '#test/memory-simulation.ts';

/*
 * The coordinator failover as a model: random policies, standbys seen in sync or lagging, a
 * coordinator crashed or its host lost, time between the last look and the loss, an operator
 * who approves or not. The real state machine definition runs the real steps over the memory
 * store and the simulator. Whatever happens, the log never holds two coordinators, never an
 * activation on a stale or missing observation, and never one before the old coordinator was
 * fenced (or an operator approved going ahead without a fence).
 */

const RUNS = Number(process.env.RECOVERSEG_MODEL_RUNS ?? 25);

interface Case {
  policy: 'approval' | 'auto' | 'off';
  lagBeforeLook: boolean;
  looked: boolean;
  failure: 'crash' | 'host-lost' | 'none' | 'both-down';
  secondsToLoss: number;
  approves: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  policy: fc.constantFrom('approval', 'auto', 'off'),
  lagBeforeLook: fc.boolean(),
  looked: fc.boolean(),
  failure: fc.constantFrom('crash', 'host-lost', 'none', 'both-down'),
  secondsToLoss: fc.constantFrom(0, 30, 59, 61, 600),
  approves: fc.boolean(),
});

const STEPS = {
  StartFailover: startFailover,
  DecideActivation: decideActivation,
  FenceCoordinator: fenceCoordinator,
  ActivateStandby: activateStandby,
  MoveClients: moveClients,
  FinishFailover: finishFailover,
  RecordFailure: recordFailure,
} as const;

const definition = substituteTaskArns(workflowDefinition());
const machine = new StateMachine(definition as never);
const zeroWaits = Object.fromEntries(
  Object.entries(definition.States as Record<string, { Type: string; Retry?: unknown }>)
    .filter(([, s]) => s.Type === 'Wait' || s.Retry !== undefined)
    .map(([name]) => [name, 0]),
);

async function play(c: Case, n: number): Promise<RecordedEvent[]> {
  let clock = Date.UTC(2026, 11, 3, 8, 0, 0);
  const now = () => new Date(clock);
  const stores = createMemoryStores();
  const { sim } = memorySimulation(() => clock);
  const deps: StepDeps = { stores, cluster: sim, notifier: { notify: async () => {} }, now };
  const clusterId = `model-${n}`;
  const segments = structuredClone(seedScenario.segments) as SegmentRow[];
  await stores.events.append(clusterId, registrationEvents(segments), {
    expectedSeq: 0,
    idempotencyKey: 'register',
    at: now().toISOString(),
  });
  await sim(clusterId).create(segments, {
    seed: n,
    timeScale: 0,
    hostRestartSeconds: c.failure === 'host-lost' ? null : 0,
  });
  await setCoordinatorPolicy({ stores, now }, clusterId, { policy: c.policy, by: 'model' });
  const look = () =>
    watchCluster(
      { ...deps, starter: { start: async () => ({ executionArn: 'x' }) } as never },
      clusterId,
    ).catch(() => undefined);
  if (c.lagBeforeLook) await sim(clusterId).lagStandby(10, 1 << 30);
  if (c.looked) await look();
  clock += c.secondsToLoss * 1000;
  if (c.failure === 'crash' || c.failure === 'both-down') await sim(clusterId).crashSegment(1);
  if (c.failure === 'both-down') await sim(clusterId).crashSegment(10);
  if (c.failure === 'host-lost') await sim(clusterId).failHost('master');
  const input = {
    clusterId,
    incidentId: `failover-${n}`,
    kind: 'coordinator',
    trigger: { source: 'scenario' },
    options: {},
    waits: { pollSeconds: 1, approvalPollSeconds: 1 },
    limits: { activationWaitSeconds: 5, maxFencePolls: 3 },
  };
  const handlers = Object.fromEntries(
    Object.entries(STEPS).map(([task, step]) => [
      task,
      async (payload: unknown) => {
        clock += 1000;
        // The operator answers once asked, if this case has one.
        const state = await stores.events.loadState(clusterId);
        const waiting = state.coordinator?.failover;
        if (c.approves && waiting?.awaitingApproval && !waiting.approved)
          await approveActivation({ stores, now }, clusterId, { by: 'dba' });
        const event = taskEventSchema.parse(JSON.parse(JSON.stringify(payload)));
        return JSON.parse(JSON.stringify(await step(deps, event))) as never;
      },
    ]),
  );
  await machine
    .run(input as never, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        waitTimeOverrides: zeroWaits,
        retryIntervalOverrides: zeroWaits,
      },
      context: { Execution: { Id: `arn:model:${n}` } } as never,
    })
    .result.catch(() => undefined);
  return stores.events.read(clusterId);
}

describe('coordinator failover: model properties', () => {
  it(`never two coordinators, never a stale or unfenced activation (${RUNS} random cases)`, async () => {
    let n = 0;
    let activations = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const events = await play(c, ++n);
        const at = (type: string) => events.findIndex((e) => e.type === type);
        // Never two coordinators: the fold of the log has exactly one content -1 `p`.
        const state = fold(events);
        const coordinators = [...state.segments.values()].filter(
          (r) => r.content === -1 && r.role === 'p',
        );
        expect(coordinators).toHaveLength(1);
        const activated = at('StandbyActivated');
        if (activated < 0) return;
        activations++;
        // Never a stale activation: the start names the last observation, streaming in sync,
        // seen (or confirmed) at most 60 s before the loss on record.
        const started = events[at('CoordinatorFailoverStarted')]!;
        const data = started.data as { observationSeq: number; confirmedAt?: string };
        const observation = events.find((e) => e.seq === data.observationSeq)!;
        expect(observation.type).toBe('StandbySyncObserved');
        expect(
          isStreamingInSync(
            (observation.data as { replication: Parameters<typeof isStreamingInSync>[0] })
              .replication,
          ),
        ).toBe(true);
        const loss = events[at('CoordinatorUnreachable')]!;
        const seen = data.confirmedAt ?? observation.at;
        expect(secondsBetween(seen, loss.at)).toBeLessThanOrEqual(60);
        expect(c.policy).not.toBe('off');
        // Never unfenced without an operator who approved exactly that.
        const fenced = events[at('CoordinatorFenced')]!;
        expect(fenced.seq).toBeLessThan(events[activated]!.seq);
        if ((fenced.data as { how: string }).how === 'none')
          expect(at('CoordinatorFailoverApproved')).toBeGreaterThan(-1);
        expect(coordinatorRows(state.segments).coordinator?.dbid).toBe(10);
      }),
      { numRuns: RUNS, seed: 20261203 },
    );
    // The property is not vacuous: some cases do fail over.
    expect(activations).toBeGreaterThan(0);
  });
});
