import * as z from '#domain/zod.ts';
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
  detail: z.optional(z.string().check(z.maxLength(500))),
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
  kind: z._default(incidentKindSchema, 'segments'),
  /**
   * Where `gpinitstandby -s` creates a standby: the run of kind standby, or a coordinator
   * failover once it has activated the old standby.
   */
  standby: z.optional(segmentLocationSchema),
  trigger: triggerSchema,
  options: recoveryOptionsSchema,
  /** Hosts known to be down (an EC2 state change): FTS is expected to fail their primaries over. */
  failedHosts: z._default(z.array(hostnameSchema).check(z.maxLength(256)), []),
  waits: z._default(
    z.strictObject({
      pollSeconds: z._default(z.int().check(z.minimum(0), z.maximum(3600)), 30),
      /**
       * Longest wait between two checks for a rebalance approval: checks start every
       * pollSeconds and slow down to this, so an execution's history stays small.
       */
      approvalPollSeconds: z._default(z.int().check(z.minimum(0), z.maximum(3600)), 300),
    }),
    { pollSeconds: 30, approvalPollSeconds: 300 },
  ),
  limits: z._default(
    z.strictObject({
      // Each poll costs about ten history events; an execution holds 25,000.
      maxRecoveryPolls: z._default(z.int().check(z.minimum(1), z.maximum(1000)), 1000),
      maxSyncPolls: z._default(z.int().check(z.minimum(1), z.maximum(1000)), 1000),
      syncTimeoutSeconds: z._default(
        z.int().check(z.minimum(1), z.maximum(7 * 24 * 3600)),
        6 * 3600,
      ),
      /** How long a run waits for a rebalance approval before it ends unbalanced. */
      rebalanceWaitSeconds: z._default(
        z.int().check(z.minimum(1), z.maximum(8 * 24 * 3600)),
        2 * 24 * 3600,
      ),
      /** How many times it looks for the approval or the window at most. */
      maxRebalanceChecks: z._default(z.int().check(z.minimum(1), z.maximum(2000)), 1000),
      /**
       * How long a coordinator failover waits for an operator's approval; past it, the run
       * ends failed and nothing is activated.
       */
      activationWaitSeconds: z._default(
        z.int().check(z.minimum(1), z.maximum(7 * 24 * 3600)),
        24 * 3600,
      ),
      /** Checks of a stopping EC2 instance before the fence is given up as failed. */
      maxFencePolls: z._default(z.int().check(z.minimum(1), z.maximum(200)), 60),
    }),
    {
      maxRecoveryPolls: 1000,
      maxSyncPolls: 1000,
      syncTimeoutSeconds: 6 * 3600,
      rebalanceWaitSeconds: 2 * 24 * 3600,
      maxRebalanceChecks: 1000,
      activationWaitSeconds: 24 * 3600,
      maxFencePolls: 60,
    },
  ),
});
export type WorkflowInput = z.infer<typeof workflowInputSchema>;
export type WorkflowInputRequest = z.input<typeof workflowInputSchema>;

const dbids = z.array(z.int()).check(z.maxLength(10_000));
const contents = z.array(z.int()).check(z.maxLength(10_000));
const at = z.iso.datetime();

export const startResultSchema = z.object({
  at,
  seq: z.int(),
  /** The coordinator on record when the run started: where every step reaches the cluster. */
  coordinator: z.optional(segmentRowSchema),
});
export const detectResultSchema = z.object({
  at,
  appended: z.int(),
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
  planned: z.int().check(z.minimum(0)),
  /** dbids already planned as full after an in-place failure in this run. */
  escalated: dbids,
});
export const operationResultSchema = z.object({
  at,
  operationId: z.string().check(z.maxLength(512)),
  kind: z.enum(['recovery', 'rebalance']),
  polls: z.int(),
  next: z.enum(['wait', 'sync', 'replan']),
  percent: z.number().check(z.minimum(0), z.maximum(100)),
  recovered: dbids,
  failed: dbids,
});
export const syncResultSchema = z.object({
  at,
  since: at,
  polls: z.int(),
  next: z.enum(['wait', 'replan', 'rebalance', 'finish', 'await-rebalance', 'unbalanced']),
  rule: z.string(),
  unsynchronized: contents,
  walRemainingBytes: z.number().check(z.nonnegative()),
  /** Seconds the Wait state waits before the next check. */
  waitSeconds: z.optional(z.int().check(z.minimum(0))),
  /** Checks for a rebalance approval or window so far in this wait. */
  rebalanceChecks: z.optional(z.int().check(z.minimum(0))),
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
  checks: z.int().check(z.minimum(0)),
  waitSeconds: z.int().check(z.minimum(0)),
});
export const fenceResultSchema = z.object({
  at,
  /** `wait`: an EC2 instance is stopping; `await`: no fence now, an operator must say. */
  next: z.enum(['wait', 'activate', 'await']),
  how: z.enum(['ec2-stop-instances', 'pg-ctl-stop-immediate', 'none']),
  polls: z.int().check(z.minimum(0)),
});
export const activateResultSchema = z.object({ at, dbid: z.int() });
export const clientsResultSchema = z.object({
  at,
  /** `standby`: a standby is to be created next (the run's input names where). */
  next: z.enum(['standby', 'finish']),
  moved: z
    .array(z.object({ how: z.enum(['route53', 'hook']), endpoint: z.string() }))
    .check(z.maxLength(2)),
});
/** The standby created (`dbid`), or gpinitstandby's refusal, on record (`failed`). */
export const standbyResultSchema = z.object({
  at,
  dbid: z.optional(z.int()),
  failed: z.optional(z.string().check(z.maxLength(2000))),
});

export type PromoteResult = z.infer<typeof promoteResultSchema>;
export type PlanResult = z.infer<typeof planResultSchema>;
export type OperationResult = z.infer<typeof operationResultSchema>;
export type SyncResult = z.infer<typeof syncResultSchema>;

/** The execution's state as a Task sees it: the input plus each phase's last result. */
export const executionStateSchema = z.extend(workflowInputSchema, {
  start: z.optional(startResultSchema),
  detect: z.optional(detectResultSchema),
  promote: z.optional(promoteResultSchema),
  plan: z.optional(planResultSchema),
  operation: z.optional(operationResultSchema),
  sync: z.optional(syncResultSchema),
  failover: z.optional(failoverStartResultSchema),
  activation: z.optional(activationResultSchema),
  fence: z.optional(fenceResultSchema),
  activated: z.optional(activateResultSchema),
  clients: z.optional(clientsResultSchema),
  initialized: z.optional(standbyResultSchema),
  /** Set by a Catch: `errors.<phase> = { Error, Cause }`, one phase at most. */
  errors: z.optional(
    z.partialRecord(phaseSchema, z.object({ Error: z.string(), Cause: z.optional(z.string()) })),
  ),
});
export type ExecutionState = z.infer<typeof executionStateSchema>;

/** What every workflow Task receives: the execution state and who is running it. */
export const taskEventSchema = z.object({
  executionId: z.string().check(z.minLength(1), z.maxLength(2048)),
  input: executionStateSchema,
});
export type TaskEvent = z.infer<typeof taskEventSchema>;
