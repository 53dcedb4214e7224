import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import type { Context } from 'aws-lambda';
import { parseOrThrow } from '#domain/validation.ts';
import {
  workflowInputSchema,
  type ExecutionState,
  type WorkflowInput,
} from '#domain/step-contract.ts';
import {
  WORKFLOW_TASKS,
  WORKFLOW_TASK_NAMES,
  taskArnPlaceholder,
  type WorkflowTask,
} from '#infra/tasks.ts';
import {
  executionName,
  type ExecutionLiveness,
  type StartedExecution,
  type WorkflowStarter,
} from '#app/starter.ts';

/** A deployed Lambda handler module, called in process. */
type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;
export type TaskInvoker = (task: WorkflowTask, payload: unknown) => Promise<unknown>;

export interface ExecutionResult {
  executionName: string;
  status: 'succeeded' | 'failed' | 'aborted';
  output: unknown;
  error: { name: string; message: string } | undefined;
}

export interface TaskObserver {
  /** After each Task succeeds, before the state machine moves on. */
  onTaskSucceeded?(task: WorkflowTask, payload: unknown, output: unknown): Promise<void> | void;
  onTaskFailed?(task: WorkflowTask, payload: unknown, error: Error): Promise<void> | void;
}

const context = (name: string): Context =>
  ({
    functionName: `recoverseg-local-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: `local-${Date.now().toString(36)}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }) as Context;

/** The handler module CDK deploys for a Task; the module loader keeps it once loaded. */
function deployedHandler(task: WorkflowTask): Promise<LambdaHandler> {
  const entry = WORKFLOW_TASKS[task].entry.replace(/^lambdas\//, '#lambdas/');
  return import(entry).then((m: { handler: LambdaHandler }) => m.handler);
}

/**
 * Loads every Task's handler ahead of the first run, as Lambda's init phase would: what they
 * read from the environment as they load must be set before.
 */
export async function loadDeployedHandlers(): Promise<void> {
  await Promise.all(WORKFLOW_TASK_NAMES.map(deployedHandler));
}

/**
 * Each Task state runs the very module CDK deploys for it (the shared task table), with the
 * payload JSON round-tripped as Lambda would.
 */
export function deployedTaskInvoker(): TaskInvoker {
  const modules = new Map<WorkflowTask, Promise<LambdaHandler>>();
  return async (task, payload) => {
    if (!modules.has(task)) modules.set(task, deployedHandler(task));
    const handler = await modules.get(task)!;
    const result = await handler(JSON.parse(JSON.stringify(payload)), context(task));
    return result === undefined ? null : JSON.parse(JSON.stringify(result));
  };
}

/**
 * What CloudFormation's DefinitionSubstitutions do on deploy: each `${TaskArn}` becomes a
 * Lambda ARN (here a local one; the runner overrides every Task with its handler module).
 */
export function substituteTaskArns(definition: Record<string, unknown>): Record<string, unknown> {
  let text = JSON.stringify(definition);
  for (const task of WORKFLOW_TASK_NAMES)
    text = text.replaceAll(
      taskArnPlaceholder(task),
      `arn:aws:lambda:us-east-1:000000000000:function:recoverseg-${task}`,
    );
  return JSON.parse(text) as Record<string, unknown>;
}

/** The local ARN of an execution: the lock's holder while it runs. */
export const localExecutionArn = (name: string): string =>
  `arn:aws:states:local:000000000000:execution:recoverseg:${name}`;

/** An execution this runner still has going, and where it is. */
interface Running {
  input: WorkflowInput;
  abort: () => void;
  /** The state it last entered, that state's type, and the execution state it entered with. */
  state: string;
  stateType: string;
  data: unknown;
  /** The last Task it ran. */
  lastTask: WorkflowTask | undefined;
  /** Task calls not yet returned: an execution that ends may leave one behind it. */
  inFlight: Set<Promise<unknown>>;
}

/** An execution `shutdown` stopped: left for a restarted serve to resume. */
export interface LeftRun {
  clusterId: string;
  incidentId: string;
  state: string;
}

/** Where a runner keeps the input of the executions it runs (serve --data: run-journal.ts). */
export interface RunInputs {
  keep(executionName: string, input: WorkflowInput): void;
  forget(executionName: string): void;
}

/**
 * A Task that threw something other than an Error: made an Error, so that the state's Catch
 * records a name and a message (aws-local-stepfunctions reads both off the thrown value: a
 * string reached RecordFailure as an error without either, and `undefined` fails the run).
 */
export class NonErrorThrown extends Error {
  override name = 'NonErrorThrown';
}

function asError(task: WorkflowTask, thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let shown: string;
  try {
    shown = JSON.stringify(thrown) ?? String(thrown);
  } catch {
    shown = String(thrown);
  }
  return new NonErrorThrown(`${task} threw ${typeof thrown} ${shown.slice(0, 500)}, not an Error`);
}

/**
 * The deployed state machine definition, run on this machine by aws-local-stepfunctions.
 * Executions are named after their incident, as in AWS: starting the same incident twice
 * returns the first execution.
 */
export class LocalWorkflow implements WorkflowStarter {
  private readonly executions = new Map<string, Promise<ExecutionResult>>();
  private readonly running = new Map<string, Running>();
  private readonly ended = new Map<string, string>();
  /** Set by shutdown: what is aborted from now on is left to resume, and nothing new starts. */
  private stopping = false;

  private readonly definition: Record<string, unknown>;
  /**
   * Built (and validated against the ASL schema) once: the validation compiles a JSON schema,
   * a fifth of the model test's Node CPU when each execution built its own.
   */
  private readonly machine: StateMachine;

  constructor(
    definition: Record<string, unknown>,
    private readonly invoke: TaskInvoker = deployedTaskInvoker(),
    private readonly observer: TaskObserver = {},
    /**
     * A demo's pace: every Wait state and every retry pauses this many ms instead of the
     * definition's seconds (whole seconds, made for a cluster that takes minutes).
     */
    private readonly pauseMs?: number,
    /** serve --data keeps each run's input, for a restarted serve to resume it. */
    private readonly inputs?: RunInputs,
  ) {
    this.definition = substituteTaskArns(definition);
    this.machine = new StateMachine(this.definition as never);
  }

  private get states(): Record<string, { Type?: string; Retry?: unknown; Catch?: unknown }> {
    return (this.definition.States ?? {}) as never;
  }

  private paceOverrides() {
    const ms = this.pauseMs;
    if (ms === undefined) return {};
    const states = Object.entries(this.states);
    const each = (keep: (state: { Type?: string; Retry?: unknown }) => boolean) =>
      Object.fromEntries(states.filter(([, state]) => keep(state)).map(([name]) => [name, ms]));
    return {
      waitTimeOverrides: each((state) => state.Type === 'Wait'),
      retryIntervalOverrides: each((state) => state.Retry !== undefined),
    };
  }

  async start(input: WorkflowInput): Promise<StartedExecution> {
    const name = executionName(input.clusterId, input.incidentId);
    const executionArn = localExecutionArn(name);
    if (this.executions.has(name))
      return { executionName: name, executionArn, alreadyStarted: true };
    if (this.stopping)
      throw new Error(
        `incident ${input.incidentId}: recoverseg serve is stopping and starts no run; start it again once serve runs`,
      );
    this.inputs?.keep(name, input);
    const run = this.execute(name, executionArn, input);
    this.executions.set(name, run);
    return { executionName: name, executionArn, alreadyStarted: false };
  }

  /** Starts (or joins) the incident's execution and waits for its end. */
  async run(request: unknown): Promise<ExecutionResult> {
    const input = parseOrThrow(workflowInputSchema, request, 'input');
    const { executionName: name } = await this.start(input);
    return this.executions.get(name)!;
  }

  result(name: string): Promise<ExecutionResult> | undefined {
    return this.executions.get(name);
  }

  /**
   * Runs only in this process: an execution this runner never started (one of a `serve` that
   * was killed) is gone.
   */
  async describe(executionArn: string): Promise<ExecutionLiveness> {
    if (this.running.has(executionArn)) return { running: true };
    const ended = this.ended.get(executionArn);
    return { running: false, status: ended ?? 'NOT_RUNNING_IN_THIS_PROCESS' };
  }

  /** Aborts the execution (a Task in flight finishes its call; nothing runs after it). */
  async stop(executionArn: string): Promise<void> {
    this.running.get(executionArn)?.abort();
  }

  /** Waits for every execution started so far. */
  async settle(): Promise<void> {
    await Promise.all(this.executions.values());
  }

  /**
   * serve stopping (SIGTERM, Ctrl-C): every execution is aborted at once, a Wait state
   * included, and recorded as nothing (neither failed nor ended: a restarted serve resumes
   * it). A Task in flight gets `graceMs` to finish its call; past that it is cut short with
   * the process, as a Lambda may be, and every step is safe to run again. Returns what it left.
   */
  async shutdown(graceMs = 2000): Promise<LeftRun[]> {
    this.stopping = true;
    const runs = [...this.running.values()];
    for (const run of runs) run.abort();
    await this.settle();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(runs.flatMap((run) => [...run.inFlight])),
      new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    return runs.map((run) => ({
      clusterId: run.input.clusterId,
      incidentId: run.input.incidentId,
      state: run.state,
    }));
  }

  private async invokeTask(task: WorkflowTask, payload: unknown): Promise<unknown> {
    try {
      assertWithinPayloadQuota(task, payload);
      const output = await this.invoke(task, payload);
      await this.observer.onTaskSucceeded?.(task, payload, output);
      return output;
    } catch (thrown) {
      const error = asError(task, thrown);
      await this.observer.onTaskFailed?.(task, payload, error);
      throw error;
    }
  }

  /** The phase a Task's Catch files its error under (`$.errors.<phase>`), from the definition. */
  private phaseOf(task: string): string | undefined {
    const catchers = this.states[task]?.Catch as { ResultPath?: string }[] | undefined;
    return catchers?.[0]?.ResultPath?.match(/^\$\.errors\.(\w+)$/)?.[1];
  }

  /**
   * An execution that ended neither through FinishRecovery nor through RecordFailure and its
   * Fail state (the runner itself failed, a state no Catch covers failed, it timed out) would
   * leave its incident open for good: RecordFailure runs for it here, as the definition would
   * have run it, once every Task call it left behind has returned (Node 20's runner failed
   * while StartRecovery was still writing, and the incident opened after its failure was
   * recorded). Returns why that failed too, if it did.
   */
  private async recordUnended(
    run: Running,
    executionArn: string,
    cause: { name: string; message: string },
  ): Promise<string | undefined> {
    await Promise.allSettled(run.inFlight);
    const state = run.data as ExecutionState;
    const phase = this.phaseOf(run.lastTask ?? String(this.definition.StartAt));
    const errors = state.errors ?? {
      ...(phase
        ? {
            [phase]: {
              Error: cause.name,
              Cause: `the local workflow runner failed in state ${run.state}: ${cause.name}: ${cause.message}`,
            },
          }
        : {}),
    };
    try {
      await this.invokeTask('RecordFailure', {
        executionId: executionArn,
        input: { ...state, errors },
      });
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  private async execute(
    name: string,
    executionArn: string,
    input: WorkflowInput,
  ): Promise<ExecutionResult> {
    const run: Running = {
      input,
      abort: () => {},
      state: String(this.definition.StartAt),
      stateType: 'Task',
      data: input,
      lastTask: undefined,
      inFlight: new Set(),
    };
    const taskResourceLocalHandlers = Object.fromEntries(
      WORKFLOW_TASK_NAMES.map((task) => [
        task,
        (payload: unknown) => {
          run.lastTask = task;
          const call = this.invokeTask(task, payload);
          run.inFlight.add(call);
          const done = () => run.inFlight.delete(call);
          call.then(done, done);
          return call as never;
        },
      ]),
    );
    const execution = this.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers, ...this.paceOverrides() },
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          Input: input as never,
          StartTime: new Date().toISOString(),
        },
      },
    });
    run.abort = execution.abort;
    // Where the execution is; reading the log also keeps it from piling up in memory.
    const watching = (async () => {
      for await (const event of execution.eventLogs)
        if (event.type === 'StateEntered') {
          run.state = event.state.name;
          run.stateType = event.state.type;
          run.data = event.state.input;
        }
    })();
    this.running.set(executionArn, run);
    let result: ExecutionResult;
    try {
      const output = await execution.result;
      result = { executionName: name, status: 'succeeded', output, error: undefined };
    } catch (error) {
      await watching;
      if ((error as Error).name === 'ExecutionAbortedError')
        result = {
          executionName: name,
          status: 'aborted',
          output: undefined,
          error: this.stopping
            ? { name: 'ExecutionLeft', message: `serve stopped; left in state ${run.state}` }
            : { name: 'ExecutionAborted', message: 'stopped by an operator' },
        };
      else {
        const cause =
          error instanceof ExecutionError
            ? ((error as Error & { cause?: Error }).cause ?? error)
            : (error as Error);
        const failure = { name: cause.name, message: cause.message };
        // The definition's own end: RecordFailure ran and then its Fail state.
        const unrecorded =
          run.stateType === 'Fail'
            ? undefined
            : await this.recordUnended(run, executionArn, failure);
        result = {
          executionName: name,
          status: 'failed',
          output: undefined,
          error: unrecorded
            ? {
                ...failure,
                message: `${failure.message}; recording the failure failed too: ${unrecorded}`,
              }
            : failure,
        };
      }
    } finally {
      this.running.delete(executionArn);
    }
    this.ended.set(
      executionArn,
      { succeeded: 'SUCCEEDED', failed: 'FAILED', aborted: 'ABORTED' }[result.status],
    );
    if (!(result.status === 'aborted' && this.stopping)) this.inputs?.forget(name);
    return result;
  }
}

/** Step Functions' quota on a state's input and output: 256 KiB of UTF-8. */
const PAYLOAD_QUOTA_BYTES = 256 * 1024;

/**
 * What Step Functions does to a state whose input passes its quota: it fails with
 * States.DataLimitExceeded. aws-local-stepfunctions enforces no quota, so a run that would fail
 * on AWS (a plan of 8,192 segments copied into the state) passed here; here it fails too.
 */
function assertWithinPayloadQuota(task: WorkflowTask, payload: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(payload) ?? '');
  if (bytes <= PAYLOAD_QUOTA_BYTES) return;
  throw Object.assign(
    new Error(
      `the input of ${task} is ${bytes} bytes, over Step Functions' ${PAYLOAD_QUOTA_BYTES}-byte quota: on AWS the execution fails here`,
    ),
    { name: 'States.DataLimitExceeded' },
  );
}
