import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { WorkflowInput } from '#domain/workflow.ts';

export interface StartedExecution {
  executionName: string;
  executionArn: string;
  /** True when this incident already had an execution: nothing new was started. */
  alreadyStarted: boolean;
}

/** Starts the recovery workflow: Step Functions in AWS, the local runner on one machine. */
export interface WorkflowStarter {
  start(input: WorkflowInput): Promise<StartedExecution>;
}

/**
 * One execution per incident: its name is derived from the cluster and the incident, and
 * Step Functions refuses a second execution of the same name, so a storm of triggers for one
 * incident starts one run.
 */
export function executionName(clusterId: string, incidentId: string): string {
  return `${clusterId}--${incidentId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
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
      const started = await this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }));
      return { executionName: name, executionArn: started.executionArn ?? executionArn, alreadyStarted: false };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return { executionName: name, executionArn, alreadyStarted: true };
      throw error;
    }
  }
}
