import {
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { GprecoversegLocked, SsmThrottled } from '#cluster/greenplum/errors.ts';
import { GprecoversegLocked as SimulatedGprecoversegLocked } from '#cluster/simulated/errors.ts';
import { ClusterUnreadable, PromotionPending } from '#domain/errors.ts';
import type { WorkflowTask } from '#domain/step-contract.ts';
import { ClusterLocked, ConcurrencyError } from '#store/errors.ts';

export type { WorkflowTask };

interface TaskFunction {
  entry: string;
  timeoutSeconds: number;
  drivesCluster: boolean;
  notifies: boolean;
}

/**
 * Every Lambda the app deploys, by name: the Task states of the workflow and the functions
 * around it. `drivesCluster`: it talks to the coordinator (SSM Run Command when real), and its
 * entry passes the cluster backend; `notifies`: it publishes a notice (the run's outcome, an
 * approval it waits for), and its entry passes the SNS client's loader (workflowTask's
 * TaskParts). The CDK stack builds one function per entry and grants each what this says; the
 * local runner maps each Task state to the very same module. There is no second list.
 */
export const WORKFLOW_TASKS = {
  StartRecovery: {
    entry: 'lambdas/start-recovery.ts',
    timeoutSeconds: 30,
    drivesCluster: false,
    notifies: false,
  },
  DetectFailures: {
    entry: 'lambdas/detect-failures.ts',
    timeoutSeconds: 120,
    drivesCluster: true,
    notifies: false,
  },
  CheckPromotion: {
    entry: 'lambdas/check-promotion.ts',
    timeoutSeconds: 120,
    drivesCluster: true,
    notifies: false,
  },
  PlanRecovery: {
    entry: 'lambdas/plan-recovery.ts',
    timeoutSeconds: 60,
    drivesCluster: false,
    notifies: false,
  },
  RecoverSegments: {
    entry: 'lambdas/recover-segments.ts',
    timeoutSeconds: 120,
    drivesCluster: true,
    notifies: false,
  },
  CheckRecovery: {
    entry: 'lambdas/check-recovery.ts',
    timeoutSeconds: 120,
    drivesCluster: true,
    notifies: false,
  },
  CheckSync: {
    entry: 'lambdas/check-sync.ts',
    timeoutSeconds: 120,
    drivesCluster: true,
    // Tells the operators when the rebalance waits for their approval.
    notifies: true,
  },
  RebalanceSegments: {
    entry: 'lambdas/rebalance-segments.ts',
    timeoutSeconds: 120,
    drivesCluster: true,
    notifies: false,
  },
  FinishRecovery: {
    entry: 'lambdas/finish-recovery.ts',
    timeoutSeconds: 30,
    drivesCluster: false,
    notifies: true,
  },
  RecordFailure: {
    entry: 'lambdas/record-failure.ts',
    timeoutSeconds: 30,
    drivesCluster: false,
    notifies: true,
  },
  // The coordinator failover: pg_isready from the standby's host, the fence, gpactivatestandby.
  StartFailover: {
    entry: 'lambdas/start-failover.ts',
    timeoutSeconds: 60,
    drivesCluster: true,
    // A refusal is told at once: nothing else will happen on its own.
    notifies: true,
  },
  DecideActivation: {
    entry: 'lambdas/decide-activation.ts',
    timeoutSeconds: 60,
    drivesCluster: true,
    // Tells the operators when the activation waits for their approval.
    notifies: true,
  },
  // pg_ctl stop over SSM, after a host check that may wait 30 s for an answer.
  FenceCoordinator: {
    entry: 'lambdas/fence-coordinator.ts',
    timeoutSeconds: 240,
    drivesCluster: true,
    notifies: false,
  },
  // gpactivatestandby took about 8 s on the real cluster (capture 128), but waits up to 600 s
  // for the promoted standby; the adapter gives it 10 minutes.
  ActivateStandby: {
    entry: 'lambdas/activate-standby.ts',
    timeoutSeconds: 690,
    drivesCluster: true,
    notifies: false,
  },
  MoveClients: {
    entry: 'lambdas/move-clients.ts',
    timeoutSeconds: 60,
    drivesCluster: false,
    notifies: false,
  },
  // gpinitstandby copies the coordinator's data directory (pg_basebackup): minutes at most
  // for a coordinator, which holds the catalog only; the adapter gives it 10.
  InitializeStandby: {
    entry: 'lambdas/initialize-standby.ts',
    timeoutSeconds: 690,
    drivesCluster: true,
    notifies: false,
  },
  FinishFailover: {
    entry: 'lambdas/finish-failover.ts',
    timeoutSeconds: 30,
    drivesCluster: false,
    notifies: true,
  },
} as const satisfies Record<WorkflowTask, TaskFunction>;

export const WORKFLOW_TASK_NAMES = Object.keys(WORKFLOW_TASKS) as WorkflowTask[];

/** Functions outside the state machine. */
export const SERVICE_FUNCTIONS = {
  ApiRouter: { entry: 'lambdas/route-api.ts', timeoutSeconds: 29 },
  StartFromEvent: { entry: 'lambdas/start-from-event.ts', timeoutSeconds: 30 },
  ProjectConfiguration: { entry: 'lambdas/project-configuration.ts', timeoutSeconds: 60 },
  // One look: two reads and an FTS probe over SSM at most, well inside the minute between looks.
  WatchCluster: { entry: 'lambdas/watch-cluster.ts', timeoutSeconds: 55 },
} as const;

/** `${TaskName}Arn` in the definition, substituted by CloudFormation (DefinitionSubstitutions). */
export const taskArnPlaceholder = (task: WorkflowTask): string => `\${${task}Arn}`;

/**
 * The errors the state machine tells apart by name (Retry), as the classes that throw them:
 * Step Functions matches `error.name`, so a Retry names an error through this registry, and
 * test/infra/contract.test.ts checks that each class's instances carry that very name. The
 * DynamoDB ones come from the SDK; Catch takes every other error (States.ALL).
 */
export const TASK_ERRORS = {
  ClusterLocked: [ClusterLocked],
  ConcurrencyError: [ConcurrencyError],
  PromotionPending: [PromotionPending],
  ClusterUnreadable: [ClusterUnreadable],
  GprecoversegLocked: [GprecoversegLocked, SimulatedGprecoversegLocked],
  SsmThrottled: [SsmThrottled],
  ProvisionedThroughputExceededException: [ProvisionedThroughputExceededException],
  ThrottlingException: [ThrottlingException],
} as const;

export type TaskErrorName = keyof typeof TASK_ERRORS;
