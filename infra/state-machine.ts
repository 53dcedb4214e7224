import type { Phase } from '#domain/events.ts';
import {
  activationResultSchema,
  clientsResultSchema,
  failoverStartResultSchema,
  fenceResultSchema,
  incidentKindSchema,
  operationResultSchema,
  planResultSchema,
  syncResultSchema,
  type WorkflowTask,
} from '#domain/step-contract.ts';
import { WORKFLOW_TASKS, taskArnPlaceholder, type TaskErrorName } from '#infra/tasks.ts';

/**
 * The recovery workflow in Amazon States Language (JSONPath), defined once. CDK deploys it
 * with each `${Task}Arn` substituted; the local runner extracts it from the synthesized
 * template and runs it with aws-local-stepfunctions.
 *
 * Every Task gets `{ executionId, input: $ }` and writes its small result under its phase
 * (ResultPath), so the execution state is the input plus one summary per phase. A caught
 * error lands in `$.errors.<phase>`, which is how RecordFailure knows where the run stopped.
 */

/** The state names a transition may target: the Tasks and the states between them. */
export type StateName =
  | WorkflowTask
  | 'ByKind'
  | 'AfterFailoverStart'
  | 'AfterActivationDecision'
  | 'WaitForActivationApproval'
  | 'AfterFence'
  | 'WaitForFence'
  | 'AfterClients'
  | 'AfterPlan'
  | 'WaitForRecovery'
  | 'AfterRecoveryCheck'
  | 'WaitForSync'
  | 'AfterSyncCheck'
  | 'WaitForRebalanceApproval'
  | 'RecoveryFailed';

/** An error the code throws, by the name of its class in TASK_ERRORS. */
const named = (...names: TaskErrorName[]): string[] => names;

/** Errors that are worth trying again, with backoff and full jitter. */
const TRANSIENT = [
  ...named(
    'ConcurrencyError',
    'SsmThrottled',
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
  ),
  // What the Lambda service raises itself, not the code.
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
  // A handler that timed out or crashed: every step is safe to run again.
  'Sandbox.Timedout',
  'Runtime.ExitError',
  'Runtime.Unknown',
];

const transientRetry = {
  ErrorEquals: TRANSIENT,
  IntervalSeconds: 1,
  BackoffRate: 2,
  MaxAttempts: 6,
  MaxDelaySeconds: 30,
  JitterStrategy: 'FULL',
};

/**
 * An answer of the cluster a step could not read (kept on record by the step): read again, a
 * few times over about two minutes, since a cluster in the middle of a role switch or a start
 * says things it will not say a moment later. Past that, the run fails saying it could not
 * read the cluster, not that the cluster failed.
 */
const unreadableRetry = {
  ErrorEquals: named('ClusterUnreadable'),
  IntervalSeconds: 5,
  BackoffRate: 2,
  MaxAttempts: 5,
  MaxDelaySeconds: 60,
};

/**
 * FTS has not finished a failover, a mark-down or a promotion. Each attempt requests an FTS
 * probe. No jitter: one execution per cluster, and the attempts must outlast
 * gp_fts_mark_mirror_down_grace_period (30 s) plus FTS's own probe retries (about 2 minutes)
 * for certain: 5 s growing to 60 s, 9.6 minutes in all.
 */
const promotionPendingRetry = {
  ErrorEquals: named('PromotionPending'),
  IntervalSeconds: 5,
  BackoffRate: 1.5,
  MaxAttempts: 14,
  MaxDelaySeconds: 60,
};

function task(
  name: WorkflowTask,
  phase: Phase,
  next: StateName | undefined,
  resultPath: string,
  extra: Record<string, unknown> = {},
) {
  return {
    Type: 'Task',
    Resource: taskArnPlaceholder(name),
    Parameters: { 'executionId.$': '$$.Execution.Id', 'input.$': '$' },
    ResultPath: resultPath,
    Retry: [
      ...((extra.Retry as object[]) ?? []),
      ...(WORKFLOW_TASKS[name].drivesCluster ? [unreadableRetry] : []),
      transientRetry,
    ],
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
  ErrorEquals: named('GprecoversegLocked'),
  IntervalSeconds: 60,
  BackoffRate: 1.5,
  MaxAttempts: 100,
  MaxDelaySeconds: 900,
};

/** Another run holds the cluster: wait for it, a while. */
const clusterLockedRetry = {
  ErrorEquals: named('ClusterLocked'),
  IntervalSeconds: 30,
  BackoffRate: 1.5,
  MaxAttempts: 10,
  MaxDelaySeconds: 300,
  JitterStrategy: 'FULL',
};

const wait = (next: StateName) => ({
  Type: 'Wait',
  SecondsPath: '$.waits.pollSeconds',
  Next: next,
});

/**
 * A Choice on a step's `next`: one branch per value of the step result's zod enum, typed by
 * it, so a value added to the contract without a branch does not compile; no Default, so no
 * value falls through to a state chosen for another.
 */
function choice<V extends string>(
  variable: string,
  values: readonly V[],
  branches: Record<V, StateName>,
) {
  return {
    Type: 'Choice',
    Choices: values.map((value) => ({
      Variable: variable,
      StringEquals: value,
      Next: branches[value],
    })),
  };
}

export function workflowDefinition(): Record<string, unknown> {
  return {
    Comment:
      'recoverseg: detect, promote, recover, wait for sync, rebalance a Greenplum/Cloudberry cluster',
    StartAt: 'ByKind',
    // Above the longest sensible run: 1000 recovery polls and 1000 sync polls (7 days), then
    // up to 8 days waiting for a rebalance approval or window (limits.rebalanceWaitSeconds).
    TimeoutSeconds: 15 * 24 * 3600,
    States: {
      ByKind: choice('$.kind', incidentKindSchema.options, {
        segments: 'StartRecovery',
        coordinator: 'StartFailover',
        standby: 'InitializeStandby',
      }),
      StartRecovery: task('StartRecovery', 'start', 'DetectFailures', '$.start', {
        Retry: [clusterLockedRetry],
      }),
      DetectFailures: task('DetectFailures', 'detect', 'CheckPromotion', '$.detect'),
      CheckPromotion: task('CheckPromotion', 'promote', 'PlanRecovery', '$.promote', {
        Retry: [promotionPendingRetry],
      }),
      PlanRecovery: task('PlanRecovery', 'plan', 'AfterPlan', '$.plan'),
      AfterPlan: choice('$.plan.next', planResultSchema.shape.next.options, {
        recover: 'RecoverSegments',
        sync: 'WaitForSync',
        'dry-run': 'FinishRecovery',
      }),
      RecoverSegments: task('RecoverSegments', 'recover', 'WaitForRecovery', '$.operation', {
        // A source still finishing its promotion is waited for, as in CheckPromotion.
        Retry: [lockHolderRetry, promotionPendingRetry],
      }),
      WaitForRecovery: wait('CheckRecovery'),
      CheckRecovery: task('CheckRecovery', 'recover', 'AfterRecoveryCheck', '$.operation'),
      AfterRecoveryCheck: choice('$.operation.next', operationResultSchema.shape.next.options, {
        wait: 'WaitForRecovery',
        sync: 'WaitForSync',
        replan: 'PlanRecovery',
      }),
      WaitForSync: wait('CheckSync'),
      CheckSync: task('CheckSync', 'sync', 'AfterSyncCheck', '$.sync'),
      AfterSyncCheck: choice('$.sync.next', syncResultSchema.shape.next.options, {
        wait: 'WaitForSync',
        replan: 'PlanRecovery',
        rebalance: 'RebalanceSegments',
        finish: 'FinishRecovery',
        'await-rebalance': 'WaitForRebalanceApproval',
        // No approval or window came in time: recorded as such, not a failure.
        unbalanced: 'FinishRecovery',
      }),
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
      // The coordinator failover: decided on the log's last observation of the standby,
      // fenced before anything is activated, waiting for an operator where the policy or the
      // missing fence says so (the same bounded loop over the log as a rebalance approval).
      StartFailover: task('StartFailover', 'failover', 'AfterFailoverStart', '$.failover', {
        Retry: [clusterLockedRetry],
      }),
      AfterFailoverStart: choice('$.failover.next', failoverStartResultSchema.shape.next.options, {
        activation: 'DecideActivation',
        finish: 'FinishFailover',
      }),
      DecideActivation: task(
        'DecideActivation',
        'failover',
        'AfterActivationDecision',
        '$.activation',
      ),
      AfterActivationDecision: choice(
        '$.activation.next',
        activationResultSchema.shape.next.options,
        { fence: 'FenceCoordinator', await: 'WaitForActivationApproval', finish: 'FinishFailover' },
      ),
      WaitForActivationApproval: {
        Type: 'Wait',
        SecondsPath: '$.activation.waitSeconds',
        Next: 'DecideActivation',
      },
      FenceCoordinator: task('FenceCoordinator', 'failover', 'AfterFence', '$.fence'),
      AfterFence: choice('$.fence.next', fenceResultSchema.shape.next.options, {
        wait: 'WaitForFence',
        activate: 'ActivateStandby',
        await: 'DecideActivation',
      }),
      WaitForFence: wait('FenceCoordinator'),
      ActivateStandby: task('ActivateStandby', 'failover', 'MoveClients', '$.activated'),
      MoveClients: task('MoveClients', 'failover', 'AfterClients', '$.clients'),
      AfterClients: choice('$.clients.next', clientsResultSchema.shape.next.options, {
        standby: 'InitializeStandby',
        finish: 'FinishFailover',
      }),
      InitializeStandby: task('InitializeStandby', 'failover', 'FinishFailover', '$.initialized'),
      FinishFailover: task('FinishFailover', 'finish', undefined, '$.result'),
      RecordFailure: task('RecordFailure', 'finish', 'RecoveryFailed', '$.failure'),
      RecoveryFailed: { Type: 'Fail', ErrorPath: '$.failure.error', CausePath: '$.failure.cause' },
    } satisfies Record<StateName, object>,
  };
}
