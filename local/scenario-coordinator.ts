import * as z from '#domain/zod.ts';
import { actorSchema, coordinatorPolicySchema } from '#domain/events.ts';
import { segmentLocationSchema } from '#domain/segment.ts';
import { approveActivation, setCoordinatorPolicy } from '#app/coordinator-control.ts';
import { OperatorRequestRefused } from '#app/control.ts';
import { watchCluster } from '#app/watch.ts';
import type { LocalRuntime } from '#local/runtime.ts';
import type { ExecutionResult } from '#local/workflow-runner.ts';

/*
 * A scenario's coordinator steps: the policy, one look of the watcher (which records the
 * standby's replication, as the watcher does between failures), and a coordinator failover
 * run, approved by a named operator when it waits for one.
 */

export const coordinatorStepSchemas = [
  z.strictObject({
    policy: z.strictObject({
      coordinatorPolicy: coordinatorPolicySchema,
      maxObservationAgeSeconds: z.optional(z.int().check(z.minimum(1), z.maximum(3600))),
      newStandby: z.optional(segmentLocationSchema),
    }),
  }),
  z.strictObject({ watch: z.strictObject({}) }),
  z.strictObject({
    failover: z.strictObject({
      /** Approves the activation, as this operator, when the run waits for one. */
      approveAs: z.optional(actorSchema),
      /** How long the run waits for an approval before it ends failed (default a day). */
      activationWaitSeconds: z.optional(z.int().check(z.minimum(1), z.maximum(86400))),
      /** Where gpinitstandby creates a new standby once the old one is activated. */
      standby: z.optional(segmentLocationSchema),
    }),
  }),
] as const;

type CoordinatorStep =
  | z.infer<(typeof coordinatorStepSchemas)[0]>
  | z.infer<(typeof coordinatorStepSchemas)[1]>
  | z.infer<(typeof coordinatorStepSchemas)[2]>;

export const isCoordinatorStep = (step: object): step is CoordinatorStep =>
  'policy' in step || 'watch' in step || 'failover' in step;

const silent = { notify: async () => {} };

/** Runs one coordinator step; a failover's result, or undefined for the others. */
export async function runCoordinatorStep(
  runtime: LocalRuntime,
  clusterId: string,
  step: CoordinatorStep,
  incidentId: string,
  pollSeconds: number,
): Promise<ExecutionResult | undefined> {
  const deps = { stores: runtime.stores, now: () => new Date() };
  if ('policy' in step) {
    await setCoordinatorPolicy(deps, clusterId, {
      policy: step.policy.coordinatorPolicy,
      ...(step.policy.maxObservationAgeSeconds
        ? { maxObservationAgeSeconds: step.policy.maxObservationAgeSeconds }
        : {}),
      ...(step.policy.newStandby ? { newStandby: step.policy.newStandby } : {}),
      by: 'scenario',
    });
    return undefined;
  }
  if ('watch' in step) {
    await watchCluster(
      {
        ...deps,
        cluster: runtime.steps.cluster,
        starter: runtime.workflow,
        notifier: silent,
      },
      clusterId,
    );
    return undefined;
  }
  const run = runtime.workflow.run({
    clusterId,
    incidentId,
    kind: 'coordinator',
    trigger: { source: 'scenario' },
    options: {},
    waits: { pollSeconds, approvalPollSeconds: Math.max(pollSeconds, 1) },
    ...(step.failover.activationWaitSeconds
      ? { limits: { activationWaitSeconds: step.failover.activationWaitSeconds } }
      : {}),
    ...(step.failover.standby ? { standby: step.failover.standby } : {}),
  });
  const approver = step.failover.approveAs;
  if (approver === undefined) return run;
  let ended = false;
  void run.finally(() => (ended = true));
  // The operator answers each question the run asks, as one would on each notice: a fence
  // that became impossible after an approval is asked about again (ACTIVATION_RULES).
  while (!ended) {
    const state = await runtime.stores.events.loadState(clusterId);
    const failover = state.coordinator?.failover;
    if (failover?.awaitingApproval && !failover.approved)
      // The run may have moved on since the read: then there is nothing to approve.
      await approveActivation(deps, clusterId, { by: approver, incidentId }).catch(
        (error: unknown) => {
          if (!(error instanceof OperatorRequestRefused)) throw error;
        },
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return run;
}
