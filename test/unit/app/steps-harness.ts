import type { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { SegmentRow } from '#domain/segment.ts';
import {
  executionStateSchema,
  type ExecutionState,
  type TaskEvent,
  type WorkflowInputRequest,
} from '#domain/step-contract.ts';
import { createMemoryStores } from '#store/memory.ts';
import type { StorePorts } from '#store/ports.ts';
import type { Notifier, RunOutcome } from '#app/notifier.ts';
import type { StepDeps } from '#app/steps.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { memorySimulation } from '#test/memory-simulation.ts';

export const FIXED = new Date('2024-12-23T12:00:00.000Z');

export class RecordingNotifier implements Notifier {
  readonly sent: RunOutcome[] = [];
  async notify(outcome: RunOutcome): Promise<void> {
    this.sent.push(outcome);
  }
}

export interface StepsHarness {
  deps: StepDeps;
  stores: StorePorts;
  notifier: RecordingNotifier;
  sim(clusterId: string): SimulatedCluster;
  /** Registers the seed cluster in the log and creates its zero-time simulation. */
  seed(clusterId: string, simulation?: SimulationOptionsInput): Promise<void>;
}

/** The steps over the memory store and in-memory zero-time simulations: decisions, not DynamoDB. */
export function stepsHarness(): StepsHarness {
  const stores = createMemoryStores();
  const notifier = new RecordingNotifier();
  const { sim } = memorySimulation(() => FIXED.getTime());
  return {
    stores,
    notifier,
    sim,
    deps: { stores, cluster: sim, notifier, now: () => FIXED },
    async seed(clusterId, simulation = {}) {
      const segments = structuredClone(seedScenario.segments) as SegmentRow[];
      await stores.events.append(clusterId, registrationEvents(segments), {
        expectedSeq: 0,
        idempotencyKey: 'register',
        at: FIXED.toISOString(),
      });
      await sim(clusterId).create(segments, { seed: 1, ...simulation, timeScale: 0 });
    },
  };
}

type Step<R> = (deps: StepDeps, event: TaskEvent) => Promise<R>;

/**
 * One execution as Step Functions runs it: each Task gets `{ executionId, input: $ }` and its
 * result lands under its ResultPath, JSON round-tripped as Lambda does.
 */
export class Execution {
  state: ExecutionState;

  constructor(
    private readonly deps: StepDeps,
    readonly executionId: string,
    input: WorkflowInputRequest,
  ) {
    this.state = executionStateSchema.parse(input);
  }

  event(): TaskEvent {
    return { executionId: this.executionId, input: JSON.parse(JSON.stringify(this.state)) };
  }

  /** Runs a step `times` times with the same input (a Lambda retried), keeping the last result. */
  async run<R>(step: Step<R>, resultPath: keyof ExecutionState | undefined, times = 1): Promise<R> {
    const event = this.event();
    let result: R | undefined;
    for (let i = 0; i < times; i++)
      result = JSON.parse(JSON.stringify(await step(this.deps, structuredClone(event)))) as R;
    if (resultPath) (this.state as Record<string, unknown>)[resultPath] = result;
    return result!;
  }
}

export const executionArn = (name: string) =>
  `arn:aws:states:us-east-1:123456789012:execution:recoverseg:${name}`;
