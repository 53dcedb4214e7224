import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import type { Context } from 'aws-lambda';
import { parseOrThrow } from '#domain/validation.ts';
import { workflowInputSchema, type WorkflowInput } from '#domain/step-contract.ts';
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

/**
 * The deployed state machine definition, run on this machine by aws-local-stepfunctions.
 * Executions are named after their incident, as in AWS: starting the same incident twice
 * returns the first execution.
 */
export class LocalWorkflow implements WorkflowStarter {
  private readonly executions = new Map<string, Promise<ExecutionResult>>();
  private readonly running = new Map<string, { abort: () => void }>();
  private readonly ended = new Map<string, string>();

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
  ) {
    this.definition = substituteTaskArns(definition);
    this.machine = new StateMachine(this.definition as never);
  }

  private paceOverrides() {
    const ms = this.pauseMs;
    if (ms === undefined) return {};
    type State = { Type?: string; Retry?: unknown };
    const states = Object.entries((this.definition.States ?? {}) as Record<string, State>);
    const each = (keep: (state: State) => boolean) =>
      Object.fromEntries(states.filter(([, state]) => keep(state)).map(([name]) => [name, ms]));
    return {
      waitTimeOverrides: each((state) => state.Type === 'Wait'),
      retryIntervalOverrides: each((state) => state.Retry !== undefined),
    };
  }

  async start(input: WorkflowInput): Promise<StartedExecution> {
    const name = executionName(input.clusterId, input.incidentId);
    const executionArn = `arn:aws:states:local:000000000000:execution:recoverseg:${name}`;
    if (this.executions.has(name))
      return { executionName: name, executionArn, alreadyStarted: true };
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

  private async execute(
    name: string,
    executionArn: string,
    input: WorkflowInput,
  ): Promise<ExecutionResult> {
    const taskResourceLocalHandlers = Object.fromEntries(
      WORKFLOW_TASK_NAMES.map((task) => [
        task,
        async (payload: unknown) => {
          try {
            const output = await this.invoke(task, payload);
            await this.observer.onTaskSucceeded?.(task, payload, output);
            return output as never;
          } catch (error) {
            await this.observer.onTaskFailed?.(task, payload, error as Error);
            throw error;
          }
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
    this.running.set(executionArn, execution);
    try {
      const output = await execution.result;
      this.ended.set(executionArn, 'SUCCEEDED');
      return { executionName: name, status: 'succeeded', output, error: undefined };
    } catch (error) {
      if ((error as Error).name === 'ExecutionAbortedError') {
        this.ended.set(executionArn, 'ABORTED');
        return {
          executionName: name,
          status: 'aborted',
          output: undefined,
          error: { name: 'ExecutionAborted', message: 'stopped by an operator' },
        };
      }
      this.ended.set(executionArn, 'FAILED');
      const cause =
        error instanceof ExecutionError
          ? ((error as Error & { cause?: Error }).cause ?? error)
          : (error as Error);
      return {
        executionName: name,
        status: 'failed',
        output: undefined,
        error: { name: cause.name, message: cause.message },
      };
    } finally {
      this.running.delete(executionArn);
    }
  }
}
