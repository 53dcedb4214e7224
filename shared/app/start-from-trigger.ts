import { parseOrThrow } from '#domain/validation.ts';
import { workflowInputSchema } from '#domain/step-contract.ts';
import type { StorePorts } from '#store/ports.ts';
import { ClusterBusy, supersedeDeadHolder } from '#app/control.ts';
import { decideTrigger, type InstanceTags } from '#app/triggers.ts';
import { executionName, type StartedExecution, type WorkflowStarter } from '#app/starter.ts';

export type TriggerResult =
  | ({ started: true } & StartedExecution & { clusterId: string; incidentId: string })
  | { started: false; reason: string };

/**
 * An EventBridge event in, at most one execution out. Events that name no registered cluster
 * are dropped with a reason (never thrown: EventBridge would only retry them).
 */
export async function startFromTrigger(
  event: unknown,
  deps: { stores: StorePorts; starter: WorkflowStarter; tagsOf: InstanceTags; now: () => Date },
): Promise<TriggerResult> {
  const decision = await decideTrigger(event, async (id) => {
    try {
      return await deps.tagsOf(id);
    } catch {
      return undefined;
    }
  });
  if (!decision.start) return { started: false, reason: decision.reason };
  const head = await deps.stores.events.readHead(decision.clusterId);
  if (head.lastSeq === 0)
    return { started: false, reason: `cluster ${decision.clusterId} is not registered` };
  const input = parseOrThrow(workflowInputSchema, {
    clusterId: decision.clusterId,
    incidentId: decision.incidentId,
    trigger: { source: decision.source, detail: decision.detail },
    options: {},
    failedHosts: decision.failedHosts,
  });
  // A lock holder that died (stopped, timed out, failed in RecordFailure) is closed on record
  // first, or this run would wait on its lock for days. A live one of another incident keeps
  // the cluster: this run queues on the lock, as two incidents of one cluster must.
  try {
    await supersedeDeadHolder(deps, decision.clusterId, {
      executionName: executionName(decision.clusterId, decision.incidentId),
      by: `${decision.source} trigger, incident ${decision.incidentId}`,
    });
  } catch (error) {
    if (!(error instanceof ClusterBusy)) throw error;
  }
  const started = await deps.starter.start(input);
  return {
    started: true,
    clusterId: decision.clusterId,
    incidentId: decision.incidentId,
    ...started,
  };
}
