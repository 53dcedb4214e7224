import * as z from '#domain/zod.ts';
import { ValidationError } from '#domain/errors.ts';
import {
  actorSchema,
  clusterIdSchema,
  incidentIdSchema,
  maintenanceWindowSchema,
  rebalancePolicySchema,
  recoveryOptionsSchema,
  recoveryPolicySchema,
  coordinatorPolicySchema,
  type RebalanceSetting,
} from '#domain/events.ts';
import { dbidSchema, hostnameSchema, segmentRowSchema, type SegmentRow } from '#domain/segment.ts';
import { incidentKindSchema, triggerSchema, workflowInputSchema } from '#domain/step-contract.ts';

/**
 * The requests an operator makes, in one place: the API, the CLI and scenario files parse
 * them with these schemas, so a rule holds the same wherever the request comes from.
 */

/**
 * A fault to inject into a simulated cluster (the CLI's `fail`, scenario `fail` steps): a host
 * powered off, a postmaster killed (a segment, the coordinator or its standby), a segment's
 * data directory lost, or the standby `bytes` of WAL behind the coordinator.
 */
export const faultSchema = z.union([
  z.strictObject({ host: hostnameSchema, kind: z._default(z.literal('host-down'), 'host-down') }),
  z.strictObject({ dbid: dbidSchema, kind: z._default(z.enum(['crash', 'disk-lost']), 'crash') }),
  z.strictObject({
    dbid: dbidSchema,
    kind: z.literal('standby-lag'),
    /** Up to 1 TiB: a WAL location stays exact. */
    bytes: z.int().check(z.minimum(1), z.maximum(2 ** 40)),
  }),
]);
export type Fault = z.infer<typeof faultSchema>;

/** A cluster's gp_segment_configuration as a registration (or a scenario) gives it. */
export const segmentsSchema = z.array(segmentRowSchema).check(z.minLength(1), z.maxLength(20_000));

export const registerRequestSchema = z.strictObject({
  clusterId: clusterIdSchema,
  segments: segmentsSchema,
  simulation: z.optional(z.record(z.string(), z.unknown())),
  /** When this cluster's recoveries may run gprecoverseg -r (absent: the trigger's default). */
  rebalancePolicy: z.optional(rebalancePolicySchema),
  rebalanceWindow: z.optional(maintenanceWindowSchema),
  /** What the watcher does on a failure (absent: DEFAULT_RECOVERY_POLICY, notify). */
  recoveryPolicy: z.optional(recoveryPolicySchema),
});

export const recoveryPolicyRequestSchema = z.strictObject({
  recoveryPolicy: recoveryPolicySchema,
  by: z.optional(actorSchema),
});

export const coordinatorPolicyRequestSchema = z.strictObject({
  coordinatorPolicy: coordinatorPolicySchema,
  /** How old the standby's last observation may be when the coordinator is lost (default 60). */
  maxObservationAgeSeconds: z.optional(z.int().check(z.minimum(1), z.maximum(3600))),
  /** Where a failover creates a new standby once it has activated the old one. */
  newStandby: workflowInputSchema.shape.standby,
  by: z.optional(actorSchema),
});

export const policyRequestSchema = z.strictObject({
  rebalancePolicy: rebalancePolicySchema,
  rebalanceWindow: z.optional(maintenanceWindowSchema),
});

export const cancelRequestSchema = z.strictObject({
  incidentId: z.optional(incidentIdSchema),
  by: z.optional(actorSchema),
  reason: z.optional(z.string().check(z.minLength(1), z.maxLength(1000))),
});

export const approvalRequestSchema = z.strictObject({
  incidentId: z.optional(incidentIdSchema),
  by: z.optional(actorSchema),
});

/** What every way to ask for a recovery may say: a scenario's `recover` step says no more. */
export const recoverRequestSchema = z.strictObject({
  incidentId: z.optional(incidentIdSchema),
  type: recoveryOptionsSchema.shape.type,
  targetHosts: recoveryOptionsSchema.shape.targetHosts,
  rebalance: recoveryOptionsSchema.shape.rebalance,
  dryRun: recoveryOptionsSchema.shape.dryRun,
  replayLagGb: recoveryOptionsSchema.shape.replayLagGb,
});

/** The API's recovery request: the above, plus the policy, known failed hosts, waits and limits. */
export const apiRecoverRequestSchema = z.extend(recoverRequestSchema, {
  /**
   * `coordinator`: a coordinator failover run (recoverseg failover); `standby`: gpinitstandby
   * at `standby` (recoverseg standby). A failover given `standby` creates it once activated.
   */
  kind: z.optional(incidentKindSchema),
  standby: workflowInputSchema.shape.standby,
  rebalancePolicy: recoveryOptionsSchema.shape.rebalancePolicy,
  rebalanceWindow: recoveryOptionsSchema.shape.rebalanceWindow,
  failedHosts: z.optional(z.array(hostnameSchema).check(z.maxLength(256))),
  waits: z.optional(workflowInputSchema.shape.waits),
  limits: z.optional(workflowInputSchema.shape.limits),
  trigger: z.optional(triggerSchema),
});

/** A policy and its window as one setting: `window` needs one, the others take none. */
export function rebalanceSetting(
  policy: z.infer<typeof rebalancePolicySchema> | undefined,
  window: string | undefined,
  fallbackWindow?: string,
): RebalanceSetting | undefined {
  if (window !== undefined && policy !== 'window')
    throw new ValidationError(
      `body.rebalanceWindow: a window applies to rebalance policy window only (the policy is ${policy ?? 'not given'})`,
      'body.rebalanceWindow',
    );
  if (policy === undefined) return undefined;
  if (policy !== 'window') return { policy };
  const chosen = window ?? fallbackWindow;
  if (!chosen)
    throw new ValidationError(
      'body.rebalanceWindow: rebalance policy window needs a window such as "Sun 02:00-04:00 UTC" (the cluster has none)',
      'body.rebalanceWindow',
    );
  return { policy, window: chosen };
}

/**
 * The hosts of `hosts` that run no segment of the cluster, with their index: a request may
 * name only hosts of gp_segment_configuration (`gprecoverseg -p` moves a failed host's
 * segments to a host the cluster already has).
 */
export function unknownHosts(
  rows: readonly Pick<SegmentRow, 'hostname'>[],
  hosts: readonly string[],
): { index: number; host: string }[] {
  const known = new Set(rows.map((r) => r.hostname));
  return hosts.flatMap((host, index) => (known.has(host) ? [] : [{ index, host }]));
}
