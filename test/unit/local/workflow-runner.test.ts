import { describe, expect, it } from 'vitest';
import { workflowDefinition } from '#infra/state-machine.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import { recoveryOptionsSchema } from '#domain/events.ts';
import { workflowInputSchema, type TaskEvent } from '#domain/step-contract.ts';
import { LocalWorkflow, type RunInputs, type TaskInvoker } from '#local/workflow-runner.ts';

/*
 * The local runner around the deployed definition, with Tasks that answer what each test needs:
 * how a run ends on record whatever ends it, and what SIGTERM leaves of it.
 */

const AT = '2024-12-23T12:00:00.000Z';

/** A run that goes straight to gprecoverseg: what each Task answers when nothing goes wrong. */
const ANSWERS: Partial<Record<WorkflowTask, unknown>> = {
  StartRecovery: { at: AT, seq: 1 },
  DetectFailures: { at: AT, appended: 0, down: [4], switched: [2], doubleFaults: [] },
  CheckPromotion: { at: AT, verdict: 'promoted', rule: 'promoted' },
  PlanRecovery: {
    at: AT,
    next: 'recover',
    planned: 1,
    escalated: [],
  },
  RecoverSegments: {
    at: AT,
    operationId: 'recovery-1',
    kind: 'recovery',
    polls: 0,
    next: 'wait',
    percent: 0,
    recovered: [],
    failed: [],
  },
  RecordFailure: { phase: 'recover', error: 'x', cause: 'x' },
};

const input = (incidentId: string, pollSeconds = 0) =>
  workflowInputSchema.parse({
    clusterId: 'seed',
    incidentId,
    trigger: { source: 'cli' },
    options: recoveryOptionsSchema.parse({}),
    waits: { pollSeconds },
  });

/** Each Task call in order, answered from ANSWERS unless `special` answers it. */
function recording(special: Partial<Record<WorkflowTask, (payload: TaskEvent) => unknown>> = {}) {
  const calls: { task: WorkflowTask; payload: TaskEvent }[] = [];
  const invoke: TaskInvoker = async (task, payload) => {
    calls.push({ task, payload: payload as TaskEvent });
    const answer = special[task];
    return answer ? answer(payload as TaskEvent) : ANSWERS[task];
  };
  return { calls, invoke };
}

describe('the local runner: every run ends on record', () => {
  it("fails a run whose state passes Step Functions' 256 KiB, as AWS does (States.DataLimitExceeded)", async () => {
    // A Task answering 300 KB: the next Task's input, the state, is over the quota.
    const { calls, invoke } = recording({
      PlanRecovery: () => ({
        ...(ANSWERS.PlanRecovery as object),
        escalated: Array(150_000).fill(4),
      }),
    });
    const result = await new LocalWorkflow(workflowDefinition(), invoke).run(input('big'));
    expect(result).toMatchObject({
      status: 'failed',
      error: { name: 'States.DataLimitExceeded' },
    });
    expect(result.error?.message).toMatch(
      /^the input of \w+ is \d+ bytes, over Step Functions' 262144-byte quota/,
    );
    // No Task ran with the oversized state: not RecoverSegments, nor RecordFailure.
    expect(calls.map((c) => c.task)).toEqual([
      'StartRecovery',
      'DetectFailures',
      'CheckPromotion',
      'PlanRecovery',
    ]);
  });

  it("a Task that throws a non-Error is caught by the state's Catch, and RecordFailure records it", async () => {
    const { calls, invoke } = recording({
      DetectFailures: () => {
        throw 'the coordinator hung up';
      },
    });
    const result = await new LocalWorkflow(workflowDefinition(), invoke).run(input('non-error'));
    expect(result.status).toBe('failed');
    const failures = calls.filter((c) => c.task === 'RecordFailure');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.payload.input.errors?.detect).toMatchObject({
      Error: 'NonErrorThrown',
      Cause: expect.stringContaining('DetectFailures threw string "the coordinator hung up"'),
    });
  });

  it('a state no Catch covers failing ends the run through RecordFailure, with the phase of the last Task', async () => {
    const { calls, invoke } = recording({
      PlanRecovery: () => ({ ...(ANSWERS.PlanRecovery as object), next: 'sideways' }),
    });
    const result = await new LocalWorkflow(workflowDefinition(), invoke).run(input('no-choice'));
    expect(result.status).toBe('failed');
    expect(calls.map((c) => c.task).at(-1)).toBe('RecordFailure');
    const recorded = calls.at(-1)!.payload;
    expect(recorded.executionId).toMatch(/:seed--no-choice$/);
    expect(recorded.input.plan).toMatchObject({ next: 'sideways' });
    expect(recorded.input.errors?.plan?.Cause).toMatch(
      /^the local workflow runner failed in state AfterPlan: /,
    );
  });

  it('the runner itself failing (Node 20: no Promise.withResolvers) records the failure once the Tasks it left behind return', async () => {
    const order: string[] = [];
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const { calls, invoke } = recording({
      // Still writing when the runner moves on: the real StartRecovery opened the incident
      // after RecordFailure had found nothing to close.
      StartRecovery: async () => {
        order.push('StartRecovery begins');
        await gate;
        order.push('StartRecovery ends');
        return ANSWERS.StartRecovery;
      },
      RecordFailure: () => {
        order.push('RecordFailure');
        openGate();
        return ANSWERS.RecordFailure;
      },
    });
    const workflow = new LocalWorkflow(workflowDefinition(), invoke);
    const withResolvers = Promise.withResolvers;
    let result;
    try {
      Object.assign(Promise, { withResolvers: undefined });
      result = await workflow.run(input('node-20'));
    } finally {
      Object.assign(Promise, { withResolvers });
    }
    expect(result.status).toBe('failed');
    expect(result.error?.name).toBe('TypeError');
    expect(order).toEqual([
      'StartRecovery begins',
      'RecordFailure',
      'StartRecovery ends',
      'RecordFailure',
    ]);
    expect(calls.at(-1)!.payload.input.errors?.start).toMatchObject({ Error: 'TypeError' });
  });
});

describe('the local runner stopping with serve', () => {
  /** A runner whose runs are in gprecoverseg's hour-long Wait once `waiting` resolves. */
  function runner() {
    const kept: string[] = [];
    const forgotten: string[] = [];
    const inputs: RunInputs = {
      keep: (name) => kept.push(name),
      forget: (name) => forgotten.push(name),
    };
    let reached = () => {};
    const waiting = new Promise<void>((resolve) => (reached = resolve));
    const { calls, invoke } = recording();
    const workflow = new LocalWorkflow(
      workflowDefinition(),
      invoke,
      {
        onTaskSucceeded: async (task) => {
          // Every promise of the step settles before setImmediate: the run is in its Wait.
          if (task === 'RecoverSegments') setImmediate(reached);
        },
      },
      undefined,
      inputs,
    );
    return { workflow, calls, kept, forgotten, waiting };
  }

  it('aborts a run in a Wait state at once, records nothing of it, keeps its input and says where it was', async () => {
    const { workflow, calls, kept, forgotten, waiting } = runner();
    await workflow.start(input('left', 3600));
    await waiting;
    const left = await workflow.shutdown();
    expect(left).toEqual([{ clusterId: 'seed', incidentId: 'left', state: 'WaitForRecovery' }]);
    expect(await workflow.result('seed--left')).toMatchObject({
      status: 'aborted',
      error: { name: 'ExecutionLeft' },
    });
    expect(calls.map((c) => c.task)).not.toContain('RecordFailure');
    expect(kept).toEqual(['seed--left']);
    expect(forgotten).toEqual([]);
    await expect(workflow.start(input('late'))).rejects.toThrow(
      'incident late: recoverseg serve is stopping and starts no run; start it again once serve runs',
    );
  });

  it('a run cancelled by an operator is forgotten: it is closed on record', async () => {
    const { workflow, kept, forgotten, waiting } = runner();
    const { executionArn } = await workflow.start(input('cancelled', 3600));
    await waiting;
    await workflow.stop(executionArn);
    expect(await workflow.result('seed--cancelled')).toMatchObject({ status: 'aborted' });
    expect(kept).toEqual(['seed--cancelled']);
    expect(forgotten).toEqual(['seed--cancelled']);
  });
});
