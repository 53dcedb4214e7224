import * as z from '#domain/zod.ts';
import { configurationOf } from '#domain/evolve.ts';
import { relocationProblems } from '#domain/decisions.ts';
import { clusterIdSchema, type RecordedEvent } from '#domain/events.ts';
import { InvalidTopology, ValidationError } from '#domain/errors.ts';
import { configurationProblems } from '#domain/invariants.ts';
import { registrationEvents } from '#domain/registration.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { segmentRowSchema, sortRows, type SegmentRow } from '#domain/segment.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { simulationOptionsSchema } from '#cluster/simulated/options.ts';
import {
  faultSchema,
  recoverRequestSchema,
  segmentsSchema,
  unknownHosts,
} from '#domain/requests.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import type { LocalRuntime } from '#local/runtime.ts';
import type { TaskObserver } from '#local/workflow-runner.ts';
import {
  coordinatorStepSchemas,
  isCoordinatorStep,
  runCoordinatorStep,
} from '#local/scenario-coordinator.ts';

export const PHASES = ['detected', 'promoted', 'recovered', 'synchronized', 'rebalanced'] as const;
export type ScenarioPhase = (typeof PHASES)[number];

const stepSchema = z.union([
  z.strictObject({ fail: faultSchema }),
  z.strictObject({ recover: recoverRequestSchema }),
  ...coordinatorStepSchemas,
  z.strictObject({
    expect: z.strictObject({
      phase: z.optional(z.enum(PHASES)),
      configuration: z.array(segmentRowSchema).check(z.maxLength(20_000)),
      /** Event types the log must hold, in this order (others may come between). */
      events: z.optional(z.array(z.string().check(z.maxLength(100))).check(z.maxLength(100))),
    }),
  }),
]);

export const scenarioSchema = z.strictObject({
  cluster: clusterIdSchema,
  segments: segmentsSchema,
  simulation: z.optional(simulationOptionsSchema),
  steps: z.array(stepSchema).check(z.maxLength(1000)),
});
export type Scenario = z.infer<typeof scenarioSchema>;

/** A scenario that cannot run as written: exit 2, one line. */
export class InvalidScenario extends Error {
  override name = 'InvalidScenario';
}

/**
 * Parses and checks a scenario before anything runs: the JSON path of the first bad field,
 * an invalid topology, and faults naming hosts or dbids that are not in the cluster.
 */
export function parseScenario(value: unknown): Scenario {
  let scenario: Scenario;
  try {
    scenario = parseOrThrow(scenarioSchema, value, '$');
  } catch (error) {
    if (error instanceof ValidationError) throw new InvalidScenario(error.message);
    throw error;
  }
  const problems = configurationProblems(scenario.segments);
  if (problems.length > 0)
    throw new InvalidScenario(`$.segments: ${new InvalidTopology(problems).message}`);
  const dbids = new Set(scenario.segments.map((s) => s.dbid));
  for (const [i, step] of scenario.steps.entries()) {
    if ('fail' in step) {
      if ('host' in step.fail && unknownHosts(scenario.segments, [step.fail.host]).length > 0)
        throw new InvalidScenario(
          `$.steps[${i}].fail.host: host ${step.fail.host} is not in the cluster`,
        );
      if ('dbid' in step.fail && !dbids.has(step.fail.dbid))
        throw new InvalidScenario(
          `$.steps[${i}].fail.dbid: dbid ${step.fail.dbid} is not in the cluster`,
        );
    }
    if ('recover' in step) {
      const [unknown] = unknownHosts(scenario.segments, Object.keys(step.recover.targetHosts));
      if (unknown)
        throw new InvalidScenario(
          `$.steps[${i}].recover.targetHosts: host ${unknown.host} is not in the cluster`,
        );
      const [relocation] = relocationProblems(step.recover);
      if (relocation) throw new InvalidScenario(`$.steps[${i}].recover.targetHosts: ${relocation}`);
    }
  }
  return scenario;
}

export interface PhaseSnapshot {
  phase: ScenarioPhase;
  seq: number;
  configuration: SegmentRow[];
}

export interface ScenarioReport {
  cluster: string;
  snapshots: PhaseSnapshot[];
  events: Pick<RecordedEvent, 'seq' | 'type' | 'data'>[];
  outcome: { status: 'succeeded' | 'failed'; error: string | null };
}

/** The phase a finished Task marks, if any (see DESIGN "Phases"). */
export function phaseReached(
  task: WorkflowTask,
  payload: unknown,
  output: unknown,
): ScenarioPhase | undefined {
  const out = output as { next?: string; kind?: string } | null;
  const input = (payload as { input?: { operation?: { kind?: string } } }).input;
  if (task === 'DetectFailures') return 'detected';
  if (task === 'CheckPromotion') return 'promoted';
  if (task === 'CheckRecovery' && out?.kind === 'recovery' && out.next === 'sync')
    return 'recovered';
  if (task === 'CheckSync' && out?.next !== 'wait')
    return input?.operation?.kind === 'rebalance' ? 'rebalanced' : 'synchronized';
  return undefined;
}

/** Records the configuration at each phase of the runs it observes. */
export class PhaseRecorder implements TaskObserver {
  snapshots: PhaseSnapshot[] = [];
  private runtime: LocalRuntime | undefined;
  constructor(private readonly onPhase: (snapshot: PhaseSnapshot) => void = () => {}) {}

  /** The runtime whose log the snapshots are read from (it is built with this observer). */
  attach(runtime: LocalRuntime): void {
    this.runtime = runtime;
  }

  reset(): void {
    this.snapshots = [];
  }

  async onTaskSucceeded(task: WorkflowTask, payload: unknown, output: unknown): Promise<void> {
    const phase = phaseReached(task, payload, output);
    if (!phase) return;
    const clusterId = (payload as { input: { clusterId: string } }).input.clusterId;
    if (!this.runtime) throw new Error('PhaseRecorder used before attach(runtime)');
    const state = await this.runtime.stores.events.loadState(clusterId);
    const snapshot = { phase, seq: state.seq, configuration: configurationOf(state) };
    this.snapshots = [...this.snapshots.filter((s) => s.phase !== phase), snapshot];
    this.onPhase(snapshot);
  }
}

/** The first of `wanted` that `types` does not hold after the ones before it, if any. */
function missingInOrder(wanted: readonly string[], types: readonly string[]): string | undefined {
  let from = 0;
  for (const type of wanted) {
    const at = types.indexOf(type, from);
    if (at < 0) return type;
    from = at + 1;
  }
  return undefined;
}

/** Row by row differences, as a reviewer reads them. */
export function rowDiff(expected: readonly SegmentRow[], actual: readonly SegmentRow[]): string[] {
  const want = renderConfigurationTable(sortRows(expected)).split('\n').slice(2);
  const got = renderConfigurationTable(sortRows(actual)).split('\n').slice(2);
  const lines: string[] = [];
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (want[i] === got[i]) continue;
    if (want[i] !== undefined) lines.push(`- ${want[i]}`);
    if (got[i] !== undefined) lines.push(`+ ${got[i]}`);
  }
  return lines;
}

export interface ScenarioRunOptions {
  pollSeconds?: number;
  log?: (line: string) => void;
}

/** Runs every step of a scenario against a local runtime whose observer is `recorder`. */
export async function runScenario(
  runtime: LocalRuntime,
  recorder: PhaseRecorder,
  scenario: Scenario,
  options: ScenarioRunOptions = {},
): Promise<ScenarioReport> {
  const log = options.log ?? (() => {});
  const at = new Date().toISOString();
  const { stores, api } = runtime;
  await stores.events.append(scenario.cluster, registrationEvents(scenario.segments), {
    expectedSeq: 0,
    idempotencyKey: `register/${scenario.cluster}`,
    causation: { actor: 'scenario' },
    at,
  });
  await api.simulator!.create(scenario.cluster, scenario.segments, scenario.simulation ?? {});
  let lastRun: PhaseSnapshot[] | undefined;
  let failure: string | null = null;
  let runs = 0;
  for (const [i, step] of scenario.steps.entries()) {
    if ('fail' in step) {
      log(`step ${i}: fail ${JSON.stringify(step.fail)}`);
      await api.simulator!.inject(scenario.cluster, step.fail);
    } else if (isCoordinatorStep(step)) {
      const incidentId = `scenario-${++runs}`;
      log(`step ${i}: ${Object.keys(step)[0]} ${JSON.stringify(Object.values(step)[0])}`);
      const result = await runCoordinatorStep(
        runtime,
        scenario.cluster,
        step,
        incidentId,
        options.pollSeconds ?? 1,
      );
      if (result?.status === 'failed') {
        failure = `${result.error?.name}: ${result.error?.message}`;
        log(`failover failed: ${failure}`);
        break;
      }
    } else if ('recover' in step) {
      runs++;
      recorder.reset();
      const incidentId = step.recover.incidentId ?? `scenario-${runs}`;
      log(`step ${i}: recover (incident ${incidentId})`);
      const result = await runtime.workflow.run({
        clusterId: scenario.cluster,
        incidentId,
        trigger: { source: 'scenario' },
        options: {
          type: step.recover.type,
          targetHosts: step.recover.targetHosts,
          rebalance: step.recover.rebalance,
          dryRun: step.recover.dryRun,
          replayLagGb: step.recover.replayLagGb,
        },
        waits: { pollSeconds: options.pollSeconds ?? 1 },
      });
      lastRun = recorder.snapshots;
      if (result.status === 'failed') {
        failure = `${result.error?.name}: ${result.error?.message}`;
        log(`recovery failed: ${failure}`);
        break;
      }
    } else {
      const actual = step.expect.phase
        ? lastRun?.find((s) => s.phase === step.expect.phase)?.configuration
        : configurationOf(await stores.events.loadState(scenario.cluster));
      if (!actual) {
        failure = `expect at $.steps[${i}]: phase ${step.expect.phase} was not reached`;
        break;
      }
      const missing = missingInOrder(
        step.expect.events ?? [],
        (await stores.events.read(scenario.cluster)).map((e) => e.type),
      );
      if (missing) {
        failure = `expect at $.steps[${i}]: event ${missing} is not on record in the order given`;
        break;
      }
      const diff = rowDiff(step.expect.configuration, actual);
      if (diff.length > 0) {
        failure = `expect at $.steps[${i}]${step.expect.phase ? ` (phase ${step.expect.phase})` : ''}: configuration differs\n${diff.join('\n')}`;
        break;
      }
      log(`step ${i}: expect ${step.expect.phase ?? 'configuration'}: ok`);
    }
  }
  const events = (await stores.events.read(scenario.cluster)).map(
    ({ seq, type, data }) => ({ seq, type, data }) as ScenarioReport['events'][number],
  );
  return {
    cluster: scenario.cluster,
    snapshots: (lastRun ?? [])
      .slice()
      .sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase)),
    events,
    outcome: { status: failure ? 'failed' : 'succeeded', error: failure },
  };
}
