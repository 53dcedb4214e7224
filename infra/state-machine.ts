import type { Phase } from '#domain/events.ts';
import { taskArnPlaceholder, type WorkflowTask } from '#infra/tasks.ts';

/**
 * The recovery workflow in Amazon States Language (JSONPath), defined once. CDK deploys it
 * with each `${Task}Arn` substituted; the local runner extracts it from the synthesized
 * template and runs it with aws-local-stepfunctions.
 *
 * Every Task gets `{ executionId, input: $ }` and writes its small result under its phase
 * (ResultPath), so the execution state is the input plus one summary per phase. A caught
 * error lands in `$.errors.<phase>`, which is how RecordFailure knows where the run stopped.
 */

/** Errors that are worth trying again, with backoff and full jitter. */
const TRANSIENT = [
  'ConcurrencyError',
  'SsmThrottled',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
  // A handler that timed out or crashed: every step is safe to run again.
  'Sandbox.Timedout',
  'Runtime.ExitError',
  'Runtime.Unknown',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
];

const transientRetry = {
  ErrorEquals: TRANSIENT,
  IntervalSeconds: 1,
  BackoffRate: 2,
  MaxAttempts: 6,
  MaxDelaySeconds: 30,
  JitterStrategy: 'FULL',
};

function task(
  name: WorkflowTask,
  phase: Phase,
  next: string | undefined,
  resultPath: string,
  extra: Record<string, unknown> = {},
) {
  return {
    Type: 'Task',
    Resource: taskArnPlaceholder(name),
    Parameters: { 'executionId.$': '$$.Execution.Id', 'input.$': '$' },
    ResultPath: resultPath,
    Retry: [...((extra.Retry as object[]) ?? []), transientRetry],
    Catch:
      name === 'RecordFailure'
        ? undefined
        : [{ ErrorEquals: ['States.ALL'], ResultPath: `$.errors.${phase}`, Next: 'RecordFailure' }],
    ...(next ? { Next: next } : { End: true }),
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'Retry')),
  };
}

/**
 * Another gprecoverseg (an operator's, say) holds gprecoverseg.lock and its PID lives: wait
 * for it, as a DBA would, for up to about a day (a full recovery of a large segment takes
 * hours). A lock whose holder is dead is a different error, for a human.
 */
const lockHolderRetry = {
  ErrorEquals: ['GprecoversegLocked'],
  IntervalSeconds: 60,
  BackoffRate: 1.5,
  MaxAttempts: 100,
  MaxDelaySeconds: 900,
};

const wait = (next: string) => ({ Type: 'Wait', SecondsPath: '$.waits.pollSeconds', Next: next });

export function workflowDefinition(): Record<string, unknown> {
  return {
    Comment:
      'recoverseg: detect, promote, recover, wait for sync, rebalance a Greenplum/Cloudberry cluster',
    StartAt: 'StartRecovery',
    // Above the longest sensible run: 1000 recovery polls and 1000 sync polls (7 days), then
    // up to 8 days waiting for a rebalance approval or window (limits.rebalanceWaitSeconds).
    TimeoutSeconds: 15 * 24 * 3600,
    States: {
      StartRecovery: task('StartRecovery', 'start', 'DetectFailures', '$.start', {
        Retry: [
          {
            ErrorEquals: ['ClusterLocked'],
            IntervalSeconds: 30,
            BackoffRate: 1.5,
            MaxAttempts: 10,
            MaxDelaySeconds: 300,
            JitterStrategy: 'FULL',
          },
        ],
      }),
      DetectFailures: task('DetectFailures', 'detect', 'CheckPromotion', '$.detect'),
      CheckPromotion: task('CheckPromotion', 'promote', 'PlanRecovery', '$.promote', {
        // Each attempt requests an FTS probe. No jitter: one execution per cluster, and the
        // attempts must outlast gp_fts_mark_mirror_down_grace_period (30 s) plus FTS's own
        // probe retries (about 2 minutes) for certain: 5 s growing to 60 s, 9.6 minutes in all.
        Retry: [
          {
            ErrorEquals: ['PromotionPending'],
            IntervalSeconds: 5,
            BackoffRate: 1.5,
            MaxAttempts: 14,
            MaxDelaySeconds: 60,
          },
        ],
      }),
      PlanRecovery: task('PlanRecovery', 'plan', 'AfterPlan', '$.plan'),
      AfterPlan: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.plan.next', StringEquals: 'dry-run', Next: 'FinishRecovery' },
          { Variable: '$.plan.next', StringEquals: 'sync', Next: 'WaitForSync' },
        ],
        Default: 'RecoverSegments',
      },
      RecoverSegments: task('RecoverSegments', 'recover', 'WaitForRecovery', '$.operation', {
        Retry: [lockHolderRetry],
      }),
      WaitForRecovery: wait('CheckRecovery'),
      CheckRecovery: task('CheckRecovery', 'recover', 'AfterRecoveryCheck', '$.operation'),
      AfterRecoveryCheck: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.operation.next', StringEquals: 'wait', Next: 'WaitForRecovery' },
          { Variable: '$.operation.next', StringEquals: 'replan', Next: 'PlanRecovery' },
        ],
        Default: 'WaitForSync',
      },
      WaitForSync: wait('CheckSync'),
      CheckSync: task('CheckSync', 'sync', 'AfterSyncCheck', '$.sync'),
      AfterSyncCheck: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.sync.next', StringEquals: 'wait', Next: 'WaitForSync' },
          { Variable: '$.sync.next', StringEquals: 'rebalance', Next: 'RebalanceSegments' },
          { Variable: '$.sync.next', StringEquals: 'replan', Next: 'PlanRecovery' },
          {
            Variable: '$.sync.next',
            StringEquals: 'await-rebalance',
            Next: 'WaitForRebalanceApproval',
          },
        ],
        // finish, and unbalanced (no approval or window came in time: recorded, not a failure).
        Default: 'FinishRecovery',
      },
      // The cluster is redundant again; gprecoverseg -r waits for an operator or a window. A
      // bounded loop over the log (no task token), so the same definition runs locally; each
      // check also looks at the cluster, so a segment failing meanwhile is recovered first.
      WaitForRebalanceApproval: {
        Type: 'Wait',
        SecondsPath: '$.sync.waitSeconds',
        Next: 'CheckSync',
      },
      RebalanceSegments: task('RebalanceSegments', 'rebalance', 'WaitForRecovery', '$.operation', {
        Retry: [lockHolderRetry],
      }),
      FinishRecovery: task('FinishRecovery', 'finish', undefined, '$.result'),
      RecordFailure: task('RecordFailure', 'finish', 'RecoveryFailed', '$.failure'),
      RecoveryFailed: { Type: 'Fail', ErrorPath: '$.failure.error', CausePath: '$.failure.cause' },
    },
  };
}
