import { afterAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleApiEvent } from '#api/http.ts';
import { initializeStandby } from '#app/standby.ts';
import {
  activateStandby,
  decideActivation,
  fenceCoordinator,
  finishFailover,
  moveClients,
  startFailover,
} from '#app/failover.ts';
import {
  checkPromotion,
  checkRecovery,
  checkSync,
  detectFailures,
  finishRecovery,
  planRecoveryStep,
  rebalanceSegments,
  recordFailure,
  recoverSegments,
  startRecovery,
  type StepDeps,
} from '#app/steps.ts';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import { taskEventSchema, type TaskEvent } from '#domain/step-contract.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import { createIsolatedTables } from '#local/dynamodb-local.ts';
import { resumeOpenRecoveries } from '#local/open-recoveries.ts';
import { RunJournal } from '#local/run-journal.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { localExecutionArn, type TaskObserver } from '#local/workflow-runner.ts';
import { createDynamoClient } from '#store/clients.ts';
import type { TableNames } from '#store/tables.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { apiEvent, reply } from '#test/unit/api/support.ts';

/*
 * A serve stopped in the middle of gprecoverseg, and a serve started again on the same tables:
 * the second goes on with the same incident, finds the gprecoverseg the first started and
 * waits for it. The steps run in process on a clock the test holds, so the copy runs for as
 * long as the test says, whatever the machine's speed.
 */

const STEPS: Record<WorkflowTask, (deps: StepDeps, event: TaskEvent) => Promise<unknown>> = {
  StartRecovery: startRecovery,
  DetectFailures: detectFailures,
  CheckPromotion: checkPromotion,
  PlanRecovery: planRecoveryStep,
  RecoverSegments: recoverSegments,
  CheckRecovery: checkRecovery,
  CheckSync: checkSync,
  RebalanceSegments: rebalanceSegments,
  FinishRecovery: finishRecovery,
  RecordFailure: recordFailure,
  StartFailover: startFailover,
  DecideActivation: decideActivation,
  FenceCoordinator: fenceCoordinator,
  ActivateStandby: activateStandby,
  MoveClients: moveClients,
  InitializeStandby: initializeStandby,
  FinishFailover: finishFailover,
};

/** Simulated time stands still until released; then each reading is a minute later. */
let clockAt = Date.now();
let released = false;
const clock = () => (released ? (clockAt += 60_000) : clockAt);

const runtimes: LocalRuntime[] = [];
afterAll(async () => {
  for (const runtime of runtimes) {
    await runtime.workflow.shutdown();
    await runtime.stop();
  }
});

/** A serve's runtime on `tables`: the steps run here, on the test's clock. */
async function serveRuntime(
  tables: TableNames,
  journal: RunJournal,
  observer: TaskObserver,
  pauseMs?: number,
): Promise<LocalRuntime> {
  const runtime: LocalRuntime = await startLocalRuntime({
    endpoint: inject('dynamodbEndpoint'),
    tables,
    definition: workflowDefinition(),
    clock,
    inputs: journal,
    observer,
    ...(pauseMs === undefined ? {} : { pauseMs }),
    invoke: async (task, payload) =>
      JSON.parse(
        JSON.stringify(
          (await STEPS[task](
            { ...runtime.steps, notifier: { notify: async () => {} } },
            parseOrThrow(taskEventSchema, JSON.parse(JSON.stringify(payload))),
          )) ?? null,
        ),
      ),
  });
  runtimes.push(runtime);
  return runtime;
}

/** Resolves with a Task's payload and output the first time it succeeds. */
function whenSucceeded(task: WorkflowTask) {
  let resolve: (value: { payload: TaskEvent; output: unknown }) => void = () => {};
  const promise = new Promise<{ payload: TaskEvent; output: unknown }>((r) => (resolve = r));
  const observer: TaskObserver = {
    onTaskSucceeded: (succeeded, payload, output) => {
      if (succeeded === task) resolve({ payload: payload as TaskEvent, output });
    },
  };
  return { promise, observer };
}

describe('serve stopped mid-gprecoverseg, and started again', () => {
  it('resumes the same incident, finds its gprecoverseg and never starts another', async () => {
    const tables = await createIsolatedTables(
      createDynamoClient(inject('dynamodbEndpoint')),
      'resume',
    );
    const journal = new RunJournal(join(mkdtempSync(join(tmpdir(), 'recoverseg-runs-')), 'runs'));
    const started = whenSucceeded('RecoverSegments');
    const first = await serveRuntime(tables, journal, started.observer);
    const call = async (method: string, path: string, body: unknown) =>
      reply(
        await handleApiEvent(first.api, apiEvent(method, path, JSON.stringify(body)), {
          error: () => {},
        }),
      );
    await call('POST', '/clusters', {
      clusterId: 'seed',
      segments: seedScenario.segments,
      // FTS and promotions at once; the copy takes simulated minutes, and the clock stands.
      simulation: { mirrorDownGracePeriodSeconds: 0, promotionSeconds: 0, timeScale: 1 },
    });
    await call('POST', '/clusters/seed/faults', { host: 'segment-2' });
    expect(
      await call('POST', '/clusters/seed/recoveries', {
        incidentId: 'resumed',
        // An hour between polls: stopping must not wait for it.
        waits: { pollSeconds: 3600 },
      }),
    ).toMatchObject({ status: 202 });
    const before = (await started.promise).output as { operationId: string };

    // serve stops (SIGTERM): the run is left where it is, nothing recorded of it.
    expect(await first.workflow.shutdown()).toEqual([
      { clusterId: 'seed', incidentId: 'resumed', state: expect.any(String) },
    ]);
    await first.stop();
    const left = await first.stores.events.loadState('seed');
    expect(left.recovery?.incidentId).toBe('resumed');
    // The run of another incident took the lock and died before recording its request.
    const name = 'seed--resumed';
    expect((await first.stores.lock.read('seed'))?.holder).toBe(localExecutionArn(name));
    await first.stores.lock.release('seed', localExecutionArn(name));
    await first.stores.lock.acquire('seed', localExecutionArn('seed--other'), 'other', 0, 3600);

    // serve starts again on the same tables; its Waits are short, its waits on record an hour.
    const resumed = whenSucceeded('RecoverSegments');
    const second = await serveRuntime(tables, journal, resumed.observer, 10);
    expect(await resumeOpenRecoveries(second, journal)).toEqual([
      'cluster seed: incident resumed resumed in phase recovering (its run stopped with the serve that ran it)',
    ]);
    const again = await resumed.promise;
    expect(again.payload.input.waits.pollSeconds).toBe(3600);
    expect(again.output).toMatchObject({ operationId: before.operationId });
    released = true;

    expect(await second.workflow.result(name)).toMatchObject({ status: 'succeeded' });
    const log = await second.stores.events.read('seed');
    expect(log.filter((e) => e.type === 'RecoveryRequested')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'RecoveryPlanned')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'RecoveryFailed')).toEqual([]);
    expect(log.at(-1)).toMatchObject({
      type: 'RecoveryCompleted',
      data: { incidentId: 'resumed', outcome: 'recovered' },
    });
    const simulated = await new SimulatedCluster({
      doc: second.stores.doc,
      tables,
      clusterId: 'seed',
      clock,
    }).readState();
    expect(
      simulated.operations.filter((op) => op.kind === 'recovery').map((op) => op.operationId),
    ).toEqual([before.operationId]);
    expect(await second.stores.lock.read('seed')).toBeUndefined();
    expect(journal.names()).toEqual([]);
  }, 60_000);
});
