import * as z from 'zod';
import {
  clusterIdSchema,
  incidentIdSchema,
  phaseSchema,
  recoveryOptionsSchema,
  triggerSourceSchema,
} from '#domain/events.ts';
import { hostnameSchema } from '#domain/segment.ts';

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
]);
export type WorkflowTask = z.infer<typeof workflowTaskSchema>;

export const triggerSchema = z.strictObject({
  source: triggerSourceSchema,
  detail: z.string().max(500).optional(),
});

export const workflowInputSchema = z.strictObject({
  clusterId: clusterIdSchema,
  incidentId: incidentIdSchema,
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
    })
    .default({
      maxRecoveryPolls: 1000,
      maxSyncPolls: 1000,
      syncTimeoutSeconds: 6 * 3600,
      rebalanceWaitSeconds: 2 * 24 * 3600,
      maxRebalanceChecks: 1000,
    }),
});
export type WorkflowInput = z.infer<typeof workflowInputSchema>;
export type WorkflowInputRequest = z.input<typeof workflowInputSchema>;

const dbids = z.array(z.number().int()).max(10_000);
const contents = z.array(z.number().int()).max(10_000);
const at = z.iso.datetime();

export const startResultSchema = z.object({ at, seq: z.number().int() });
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
