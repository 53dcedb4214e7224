import { StateMachine } from 'aws-local-stepfunctions';
import { WORKFLOW_TASK_NAMES } from '#infra/tasks.ts';

type RunOptions = NonNullable<Parameters<StateMachine['run']>[1]>;
type Intervals = NonNullable<NonNullable<RunOptions['overrides']>['retryIntervalOverrides']>;

/**
 * Retry intervals of the deployed definition are seconds to minutes (backoff with full jitter):
 * right for AWS, far too slow for hundreds of local runs. aws-local-stepfunctions can override
 * them per state (`retryIntervalOverrides`), but `LocalWorkflow` does not pass overrides
 * through yet, so this wraps `StateMachine.prototype.run` of the one library instance the
 * runner uses, for the calling test file (each file runs in its own worker). Only the waiting
 * changes: which errors are retried, how often, and what is caught stay the deployed ones.
 *
 * `intervals` maps a state name to milliseconds (one number, or one per retrier in order);
 * unnamed Task states retry at once.
 */
export function overrideRetryIntervals(intervals: Intervals = {}): () => void {
  const original = StateMachine.prototype.run;
  const zero = Object.fromEntries(WORKFLOW_TASK_NAMES.map((task) => [task, 0]));
  StateMachine.prototype.run = function run(this: StateMachine, input, options: RunOptions = {}) {
    return original.call(this, input, {
      ...options,
      overrides: {
        ...options.overrides,
        retryIntervalOverrides: {
          ...zero,
          ...intervals,
          ...options.overrides?.retryIntervalOverrides,
        },
      },
    });
  } as StateMachine['run'];
  return () => {
    StateMachine.prototype.run = original;
  };
}
