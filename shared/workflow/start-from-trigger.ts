import { parseOrThrow } from '#domain/validation.ts';
import { workflowInputSchema } from '#domain/workflow.ts';
import type { EventStore } from '#store/event-store.ts';
import { decideTrigger, type InstanceTags } from '#workflow/triggers.ts';
import type { StartedExecution, WorkflowStarter } from '#workflow/starter.ts';

export type TriggerResult =
  | ({ started: true } & StartedExecution & { clusterId: string; incidentId: string })
  | { started: false; reason: string };

/**
 * An EventBridge event in, at most one execution out. Events that name no registered cluster
 * are dropped with a reason (never thrown: EventBridge would only retry them).
 */
export async function startFromTrigger(
  event: unknown,
  deps: { events: EventStore; starter: WorkflowStarter; tagsOf: InstanceTags },
): Promise<TriggerResult> {
  const decision = await decideTrigger(event, async (id) => {
    try {
      return await deps.tagsOf(id);
    } catch {
      return undefined;
    }
  });
  if (!decision.start) return { started: false, reason: decision.reason };
  const head = await deps.events.readHead(decision.clusterId);
  if (head.lastSeq === 0)
    return { started: false, reason: `cluster ${decision.clusterId} is not registered` };
  const input = parseOrThrow(workflowInputSchema, {
    clusterId: decision.clusterId,
    incidentId: decision.incidentId,
    trigger: { source: decision.source, detail: decision.detail },
    options: {},
    failedHosts: decision.failedHosts,
  });
  const started = await deps.starter.start(input);
  return {
    started: true,
    clusterId: decision.clusterId,
    incidentId: decision.incidentId,
    ...started,
  };
}
