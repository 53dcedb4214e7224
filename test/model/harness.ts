import { setTimeout as sleep } from 'node:timers/promises';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import { createIsolatedTables } from '#local/dynamodb-local.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { deployedTaskInvoker, type TaskInvoker } from '#local/workflow-runner.ts';
import { createDynamoClient } from '#store/clients.ts';
import {
  catalogProblems,
  ftsHistoryProblems,
  replayLog,
  stateDocument,
  type LogReplay,
} from '#test/model/properties.ts';

/** Runs before a Task's handler (`before`) or after it returned (`after`); may throw to crash it. */
export type TaskHook = (
  task: WorkflowTask,
  payload: unknown,
  when: 'before' | 'after',
) => Promise<void> | void;

export interface Harness {
  runtime: LocalRuntime;
  /** Replaced per command or per test; undefined: the handlers run as deployed. */
  hook: TaskHook | undefined;
  invocations: number;
  /** Errors Tasks threw (and the workflow retried or caught), by name. */
  errors: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * One local runtime per test file: the run's DynamoDB Local with this file's tables, the
 * projector on the stream, and the deployed definition whose Tasks run the deployed handler
 * modules, wrapped so a test can inject faults and crashes around any Task.
 */
export async function startHarness(endpoint: string, prefix: string): Promise<Harness> {
  const client = createDynamoClient(endpoint);
  const tables = await createIsolatedTables(client, prefix);
  client.destroy();
  const deployed = deployedTaskInvoker();
  const harness: Harness = {
    runtime: undefined as never,
    hook: undefined,
    invocations: 0,
    errors: {},
    stop: async () => harness.runtime.stop(),
  };
  const invoke: TaskInvoker = async (task, payload) => {
    harness.invocations++;
    await harness.hook?.(task, payload, 'before');
    let output;
    try {
      output = await deployed(task, payload);
    } catch (error) {
      const name = (error as Error).name;
      harness.errors[name] = (harness.errors[name] ?? 0) + 1;
      throw error;
    }
    await harness.hook?.(task, payload, 'after');
    return output;
  };
  harness.runtime = await startLocalRuntime({
    endpoint,
    tables,
    definition: workflowDefinition(),
    invoke,
  });
  return harness;
}

export interface ClusterUnderTest {
  clusterId: string;
  sim: SimulatedCluster;
  registered: SegmentRow[];
}

/** Registers the cluster in the log and creates its simulation, as `recoverseg` registration does. */
export async function registerCluster(
  runtime: LocalRuntime,
  clusterId: string,
  segments: SegmentRow[],
  simulation: SimulationOptionsInput,
): Promise<ClusterUnderTest> {
  await runtime.stores.events.append(clusterId, registrationEvents(segments), {
    expectedSeq: 0,
    idempotencyKey: `register/${clusterId}`,
    causation: { actor: 'model' },
    at: new Date().toISOString(),
  });
  await runtime.api.simulator!.create(clusterId, segments, simulation);
  const sim = new SimulatedCluster({
    doc: runtime.stores.doc,
    tables: runtime.stores.tables,
    clusterId,
    clock: Date.now,
  });
  return { clusterId, sim, registered: segments };
}

/** Problems of the simulated cluster: its catalog and the FTS history that led to it. */
export async function simulatorProblems(cluster: ClusterUnderTest): Promise<string[]> {
  const sim = await cluster.sim.readState();
  return [
    ...catalogProblems('simulated catalog', sim.catalog),
    ...(ftsHistoryProblems(cluster.registered, sim) ?? []),
  ];
}

/**
 * Problems of the event log and its projection: the log folds validly event by event; the
 * projection the stream projector keeps equals the fold of the log; a full rebuild equals both.
 */
export async function logProblems(
  runtime: LocalRuntime,
  clusterId: string,
  options: { rebuild?: boolean } = {},
): Promise<LogReplay> {
  const events = await runtime.stores.events.read(clusterId);
  const replay = replayLog(events);
  const folded = stateDocument(replay.state);
  let projected: unknown;
  for (let attempt = 0; attempt < 50; attempt++) {
    await runtime.poller.drain();
    const { state } = await runtime.stores.projection.read(clusterId);
    projected = stateDocument(state);
    if (state.seq >= replay.state.seq) break;
    await sleep(10);
  }
  if (JSON.stringify(projected) !== JSON.stringify(folded))
    replay.problems.push(
      `the projection differs from the fold of the log:\n  projected ${JSON.stringify(projected)}\n  folded    ${JSON.stringify(folded)}`,
    );
  if (options.rebuild === false) return replay;
  const rebuilt = stateDocument(await runtime.stores.projector.rebuild(clusterId));
  if (JSON.stringify(rebuilt) !== JSON.stringify(folded))
    replay.problems.push(
      `a full rebuild differs from the fold of the log:\n  rebuilt ${JSON.stringify(rebuilt)}\n  folded  ${JSON.stringify(folded)}`,
    );
  const reread = stateDocument((await runtime.stores.projection.read(clusterId)).state);
  if (JSON.stringify(reread) !== JSON.stringify(folded))
    replay.problems.push('the projection after a rebuild differs from the fold of the log');
  return replay;
}

/** Counts logical DynamoDB requests (one per `send`, whatever the retries) by operation. */
export function countRequests(stack: {
  add: (mw: never, options: never) => void;
}): Record<string, number> {
  const counts: Record<string, number> = {};
  stack.add(
    ((next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        const name = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        counts[name] = (counts[name] ?? 0) + 1;
        return next(args);
      }) as never,
    { step: 'initialize', name: 'recoversegRequestCounter', override: true } as never,
  );
  return counts;
}
