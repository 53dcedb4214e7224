import { StateMachine } from 'aws-local-stepfunctions';
import { workflowDefinition } from '#infra/state-machine.ts';
import { WORKFLOW_TASK_NAMES } from '#infra/tasks.ts';

type RunOptions = NonNullable<Parameters<StateMachine['run']>[1]>;
type Overrides = NonNullable<RunOptions['overrides']>;
type Intervals = NonNullable<Overrides['retryIntervalOverrides']>;
type Waits = NonNullable<Overrides['waitTimeOverrides']>;

/**
 * Where the workflow waits on the clock while a simulated cluster takes its time (a promotion
 * that lasts some milliseconds): each retry of PromotionPending pauses `promotionPendingMs`, and
 * each Wait state (WaitForRecovery, WaitForSync) `pollMs`. However fast the machine, a run then
 * spends at least that long in each, so its budget of attempts and polls outlasts a promotion.
 */
export interface Pace {
  promotionPendingMs: number;
  pollMs: number;
}

let paced: { retries: Intervals; waits: Waits } | undefined;

/** The pace of the workflow runs started from now on; undefined: no waiting at all. */
export function setPace(pace: Pace | undefined): void {
  paced = pace && paceOverrides(pace);
}

function paceOverrides(p: Pace): { retries: Intervals; waits: Waits } {
  type State = { Type?: string; Retry?: { ErrorEquals: string[] }[] };
  const states = Object.entries(workflowDefinition().States as Record<string, State>);
  const retries: Intervals = {};
  const waits: Waits = {};
  for (const [name, state] of states) {
    if (state.Type === 'Wait') waits[name] = p.pollMs;
    if (state.Retry?.some((r) => r.ErrorEquals.includes('PromotionPending')))
      retries[name] = state.Retry.map((r) =>
        r.ErrorEquals.includes('PromotionPending') ? p.promotionPendingMs : 0,
      );
  }
  return { retries, waits };
}

/**
 * Retry intervals of the deployed definition are seconds to minutes (backoff with full jitter):
 * right for AWS, far too slow for hundreds of local runs. aws-local-stepfunctions can override
 * them per state (`retryIntervalOverrides`), but `LocalWorkflow` does not pass overrides
 * through yet, so this wraps `StateMachine.prototype.run` of the one library instance the
 * runner uses, for the calling test file (each file runs in its own worker). Only the waiting
 * changes: which errors are retried, how often, and what is caught stay the deployed ones.
 *
 * `intervals` maps a state name to milliseconds (one number, or one per retrier in order);
 * unnamed Task states retry at once. `setPace` adds waits for the runs that need them.
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
          ...paced?.retries,
          ...intervals,
          ...options.overrides?.retryIntervalOverrides,
        },
        waitTimeOverrides: { ...paced?.waits, ...options.overrides?.waitTimeOverrides },
      },
    });
  } as StateMachine['run'];
  return () => {
    StateMachine.prototype.run = original;
    paced = undefined;
  };
}
