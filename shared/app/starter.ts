import { createHash } from 'node:crypto';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  StartExecutionCommand,
  StopExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { WorkflowInput } from '#domain/step-contract.ts';

export interface StartedExecution {
  executionName: string;
  executionArn: string;
  /** True when this incident already had an execution: nothing new was started. */
  alreadyStarted: boolean;
}

/** Whether an execution still runs; `gone` covers stopped, failed, timed out and unknown. */
export type ExecutionLiveness =
  { running: true } | { running: false; status: string; stoppedAt?: string };

/**
 * Starts, looks at and stops the recovery workflow: Step Functions in AWS, the local runner on
 * one machine. `describe` is how a starter tells a live lock holder from a dead one.
 */
export interface WorkflowStarter {
  start(input: WorkflowInput): Promise<StartedExecution>;
  describe(executionArn: string): Promise<ExecutionLiveness>;
  /** Stops a running execution; stopping one that has ended is harmless. */
  stop(executionArn: string, cause: string): Promise<void>;
}

/** Step Functions execution names: at most 80 characters of letters, digits, `-` and `_`. */
const MAX_EXECUTION_NAME = 80;

/**
 * One execution per incident: its name is derived from the cluster and the incident, and
 * Step Functions refuses a second execution of the same name, so a storm of triggers for one
 * incident starts one run. A name that had to be shortened or have characters replaced ends
 * in a digest of the whole, so two incidents never share an execution name (a 64-character
 * cluster id would otherwise leave 14 characters of the incident, and `a.b` would be `a_b`).
 */
export function executionName(clusterId: string, incidentId: string): string {
  const whole = `${clusterId}--${incidentId}`;
  const safe = whole.replace(/[^A-Za-z0-9_-]/g, '_');
  if (safe === whole && whole.length <= MAX_EXECUTION_NAME) return whole;
  const digest = createHash('sha256').update(whole).digest('hex').slice(0, 16);
  return `${safe.slice(0, MAX_EXECUTION_NAME - digest.length - 1)}-${digest}`;
}

export class SfnWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(input: WorkflowInput): Promise<StartedExecution> {
    const name = executionName(input.clusterId, input.incidentId);
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    try {
      const started = await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return {
        executionName: name,
        executionArn: started.executionArn ?? executionArn,
        alreadyStarted: false,
      };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists)
        return { executionName: name, executionArn, alreadyStarted: true };
      throw error;
    }
  }

  async describe(executionArn: string): Promise<ExecutionLiveness> {
    try {
      const execution = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (execution.status === 'RUNNING') return { running: true };
      return {
        running: false,
        status: execution.status ?? 'UNKNOWN',
        ...(execution.stopDate ? { stoppedAt: execution.stopDate.toISOString() } : {}),
      };
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist)
        return { running: false, status: 'DOES_NOT_EXIST' };
      throw error;
    }
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    await this.sfn.send(
      new StopExecutionCommand({
        executionArn,
        error: 'RecoveryCancelled',
        cause: cause.slice(0, 32_000),
      }),
    );
  }
}
