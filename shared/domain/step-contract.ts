import * as z from 'zod';
import {
  clusterIdSchema,
  incidentIdSchema,
  phaseSchema,
  recoveryOptionsSchema,
  triggerSourceSchema,
} from '#domain/events.ts';
import { hostnameSchema, segmentLocationSchema, segmentRowSchema } from '#domain/segment.ts';

/**
 * The contract between the triggers, the state machine and its Task handlers. Payloads carry
 * ids and summaries only: a Step Functions payload is limited to 256 KB.
 */

/**
 * The Task states of the workflow, by name: the state machine, the stack (infra/tasks.ts)
 * and the handlers name their task from this one list.
 */
export const workflowTaskSchema = z.enum([
  'StartRecovery',
  'DetectFailures',
  'CheckPromotion',
  'PlanRecovery',
  'RecoverSegments',
  'CheckRecovery',
  'CheckSync',
  'RebalanceSegments',
  'FinishRecovery',
  'RecordFailure',
  'StartFailover',
  'DecideActivation',
  'FenceCoordinator',
  'ActivateStandby',
  'MoveClients',
  'InitializeStandby',
  'FinishFailover',
]);
export type WorkflowTask = z.infer<typeof workflowTaskSchema>;

export const triggerSchema = z.strictObject({
  source: triggerSourceSchema,
  detail: z.string().max(500).optional(),
});

/**
 * What a run answers: failed segments (recover, rebalance), a lost coordinator (fence the old
 * one, activate its standby), or a new standby (gpinitstandby). One state machine, one lock,
 * one log for all.
 */
export const incidentKindSchema = z.enum(['segments', 'coordinator', 'standby']);
export type IncidentKind = z.infer<typeof incidentKindSchema>;

export const workflowInputSchema = z.strictObject({
  clusterId: clusterIdSchema,
  incidentId: incidentIdSchema,
  kind: incidentKindSchema.default('segments'),
  /**
   * Where `gpinitstandby -s` creates a standby: the run of kind standby, or a coordinator
   * failover once it has activated the old standby.
   */
  standby: segmentLocationSchema.optional(),
  trigger: triggerSchema,
  options: recoveryOptionsSchema,
  /** Hosts known to be down (an EC2 state change): FTS is expected to fail their primaries over. */
  failedHosts: z.array(hostnameSchema).max(256).default([]),
  waits: z
    .strictObject({
      pollSeconds: z.number().int().min(0).max(3600).default(30),
      /**
       * Longest wait between two checks for a rebalance approval: checks start every
       * pollSeconds and slow down to this, so an execution's history stays small.
       */
      approvalPollSeconds: z.number().int().min(0).max(3600).default(300),
    })
    .default({ pollSeconds: 30, approvalPollSeconds: 300 }),
  limits: z
    .strictObject({
      // Each poll costs about ten history events; an execution holds 25,000.
      maxRecoveryPolls: z.number().int().min(1).max(1000).default(1000),
      maxSyncPolls: z.number().int().min(1).max(1000).default(1000),
      syncTimeoutSeconds: z
        .number()
        .int()
        .min(1)
        .max(7 * 24 * 3600)
        .default(6 * 3600),
      /** How long a run waits for a rebalance approval before it ends unbalanced. */
      rebalanceWaitSeconds: z
        .number()
        .int()
        .min(1)
        .max(8 * 24 * 3600)
        .default(2 * 24 * 3600),
      /** How many times it looks for the approval or the window at most. */
      maxRebalanceChecks: z.number().int().min(1).max(2000).default(1000),
      /**
       * How long a coordinator failover waits for an operator's approval; past it, the run
       * ends failed and nothing is activated.
       */
      activationWaitSeconds: z
        .number()
        .int()
        .min(1)
        .max(7 * 24 * 3600)
        .default(24 * 3600),
      /** Checks of a stopping EC2 instance before the fence is given up as failed. */
      maxFencePolls: z.number().int().min(1).max(200).default(60),
    })
    .default({
      maxRecoveryPolls: 1000,
      maxSyncPolls: 1000,
      syncTimeoutSeconds: 6 * 3600,
      rebalanceWaitSeconds: 2 * 24 * 3600,
      maxRebalanceChecks: 1000,
      activationWaitSeconds: 24 * 3600,
      maxFencePolls: 60,
    }),
});
export type WorkflowInput = z.infer<typeof workflowInputSchema>;
export type WorkflowInputRequest = z.input<typeof workflowInputSchema>;

const dbids = z.array(z.number().int()).max(10_000);
const contents = z.array(z.number().int()).max(10_000);
const at = z.iso.datetime();

export const startResultSchema = z.object({
  at,
  seq: z.number().int(),
  /** The coordinator on record when the run started: where every step reaches the cluster. */
  coordinator: segmentRowSchema.optional(),
});
export const detectResultSchema = z.object({
  at,
  appended: z.number().int(),
  down: dbids,
  switched: contents,
  doubleFaults: contents,
});
export const promoteResultSchema = z.object({
  at,
  verdict: z.enum(['promoted']),
  rule: z.string(),
});
export const planResultSchema = z.object({
  at,
  next: z.enum(['recover', 'sync', 'dry-run']),
  /**
   * How many segments the plan holds. The plan itself is on record (RecoveryPlanned): a copy
   * of it in the execution's state would pass Step Functions' 256 KB at some 7,000 segments.
   */
  planned: z.number().int().min(0),
  /** dbids already planned as full after an in-place failure in this run. */
  escalated: dbids,
});
export const operationResultSchema = z.object({
  at,
  operationId: z.string().max(512),
  kind: z.enum(['recovery', 'rebalance']),
  polls: z.number().int(),
  next: z.enum(['wait', 'sync', 'replan']),
  percent: z.number().min(0).max(100),
  recovered: dbids,
  failed: dbids,
});
export const syncResultSchema = z.object({
  at,
  since: at,
  polls: z.number().int(),
  next: z.enum(['wait', 'replan', 'rebalance', 'finish', 'await-rebalance', 'unbalanced']),
  rule: z.string(),
  unsynchronized: contents,
  walRemainingBytes: z.number().nonnegative(),
  /** Seconds the Wait state waits before the next check. */
  waitSeconds: z.number().int().min(0).optional(),
  /** Checks for a rebalance approval or window so far in this wait. */
  rebalanceChecks: z.number().int().min(0).optional(),
});

export const failoverStartResultSchema = z.object({
  at,
  /** `activation`: the failover is on record; `finish`: refused, off, or not needed. */
  next: z.enum(['activation', 'finish']),
  rule: z.string(),
});
export const activationResultSchema = z.object({
  at,
  next: z.enum(['fence', 'await', 'finish']),
  rule: z.string(),
  since: at,
  checks: z.number().int().min(0),
  waitSeconds: z.number().int().min(0),
});
export const fenceResultSchema = z.object({
  at,
  /** `wait`: an EC2 instance is stopping; `await`: no fence now, an operator must say. */
  next: z.enum(['wait', 'activate', 'await']),
  how: z.enum(['ec2-stop-instances', 'pg-ctl-stop-immediate', 'none']),
  polls: z.number().int().min(0),
});
export const activateResultSchema = z.object({ at, dbid: z.number().int() });
export const clientsResultSchema = z.object({
  at,
  /** `standby`: a standby is to be created next (the run's input names where). */
  next: z.enum(['standby', 'finish']),
  moved: z.array(z.object({ how: z.enum(['route53', 'hook']), endpoint: z.string() })).max(2),
});
/** The standby created (`dbid`), or gpinitstandby's refusal, on record (`failed`). */
export const standbyResultSchema = z.object({
  at,
  dbid: z.number().int().optional(),
  failed: z.string().max(2000).optional(),
});

export type PromoteResult = z.infer<typeof promoteResultSchema>;
export type PlanResult = z.infer<typeof planResultSchema>;
export type OperationResult = z.infer<typeof operationResultSchema>;
export type SyncResult = z.infer<typeof syncResultSchema>;

/** The execution's state as a Task sees it: the input plus each phase's last result. */
export const executionStateSchema = workflowInputSchema.extend({
  start: startResultSchema.optional(),
  detect: detectResultSchema.optional(),
  promote: promoteResultSchema.optional(),
  plan: planResultSchema.optional(),
  operation: operationResultSchema.optional(),
  sync: syncResultSchema.optional(),
  failover: failoverStartResultSchema.optional(),
  activation: activationResultSchema.optional(),
  fence: fenceResultSchema.optional(),
  activated: activateResultSchema.optional(),
  clients: clientsResultSchema.optional(),
  initialized: standbyResultSchema.optional(),
  /** Set by a Catch: `errors.<phase> = { Error, Cause }`, one phase at most. */
  errors: z
    .partialRecord(phaseSchema, z.object({ Error: z.string(), Cause: z.string().optional() }))
    .optional(),
});
export type ExecutionState = z.infer<typeof executionStateSchema>;

/** What every workflow Task receives: the execution state and who is running it. */
export const taskEventSchema = z.object({
  executionId: z.string().min(1).max(2048),
  input: executionStateSchema,
});
export type TaskEvent = z.infer<typeof taskEventSchema>;
