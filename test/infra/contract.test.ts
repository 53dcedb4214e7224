import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  operationResultSchema,
  planResultSchema,
  syncResultSchema,
  workflowTaskSchema,
  activationResultSchema,
  clientsResultSchema,
  failoverStartResultSchema,
  fenceResultSchema,
  incidentKindSchema,
} from '#domain/step-contract.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import { TASK_ERRORS, WORKFLOW_TASKS, taskArnPlaceholder } from '#infra/tasks.ts';

type State = {
  Type: string;
  Resource?: string;
  Choices?: { Variable: string; StringEquals: string; Next: string }[];
  Default?: string;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[] }[];
};

/** The definition as Step Functions reads it: JSON, nothing of the code that built it. */
const states = (
  JSON.parse(JSON.stringify(workflowDefinition())) as { States: Record<string, State> }
).States;

/** Every step result the state machine branches on, by the path its Choice reads. */
const BRANCHED_ON: Record<string, readonly string[]> = {
  '$.plan.next': planResultSchema.shape.next.options,
  '$.operation.next': operationResultSchema.shape.next.options,
  '$.sync.next': syncResultSchema.shape.next.options,
  '$.kind': incidentKindSchema.options,
  '$.failover.next': failoverStartResultSchema.shape.next.options,
  '$.activation.next': activationResultSchema.shape.next.options,
  '$.fence.next': fenceResultSchema.shape.next.options,
  '$.clients.next': clientsResultSchema.shape.next.options,
};

describe('the state machine and its contract are one', () => {
  const choices = Object.entries(states).filter(([, s]) => s.Type === 'Choice');

  it('branches on every value of every next, once each, to a state that exists, with no Default', () => {
    expect(choices.map(([, s]) => s.Choices![0]!.Variable).sort()).toEqual(
      Object.keys(BRANCHED_ON).sort(),
    );
    for (const [name, choice] of choices) {
      const variable = choice.Choices![0]!.Variable;
      expect(
        choice.Choices!.every((c) => c.Variable === variable),
        name,
      ).toBe(true);
      expect(choice.Choices!.map((c) => c.StringEquals).sort(), name).toEqual(
        [...BRANCHED_ON[variable]!].sort(),
      );
      for (const c of choice.Choices!) expect(Object.keys(states), name).toContain(c.Next);
      expect(choice.Default, name).toBeUndefined();
    }
  });

  it('names in Retry and Catch only errors a class of the code carries, States.* and the Lambda service', () => {
    const named = Object.values(states).flatMap((s) =>
      [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((r) => r.ErrorEquals),
    );
    expect(named).toContain('PromotionPending');
    for (const name of new Set(named)) {
      if (/^(States|Lambda|Sandbox|Runtime)\./.test(name)) continue;
      const classes = TASK_ERRORS[name as keyof typeof TASK_ERRORS];
      expect(classes, `${name} is no error class of TASK_ERRORS`).toBeDefined();
      for (const ErrorClass of classes) {
        // Any arguments do: only the name an instance carries matters to Step Functions.
        const error = Reflect.construct(ErrorClass, ['seed', 'holder', 0]) as Error;
        expect(error).toBeInstanceOf(Error);
        expect(error.name, ErrorClass.name).toBe(name);
      }
    }
  });

  it('has a Task state for every workflow task, each invoking its own function', () => {
    const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual([...workflowTaskSchema.options].sort());
    for (const [name, state] of tasks)
      expect(state.Resource).toBe(taskArnPlaceholder(name as keyof typeof WORKFLOW_TASKS));
  });

  it('each handler names the task it is deployed as', () => {
    for (const task of workflowTaskSchema.options) {
      const source = readFileSync(WORKFLOW_TASKS[task].entry, 'utf8');
      expect(source.match(/workflowTask\(\s*'(\w+)'/)?.[1], WORKFLOW_TASKS[task].entry).toBe(task);
    }
  });
});
