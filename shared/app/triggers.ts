import * as z from '#domain/zod.ts';
import { clusterIdSchema } from '#domain/events.ts';
import { hostnameSchema } from '#domain/segment.ts';

/** The EventBridge events that start a recovery, as far as we read them. */
const alarmEventSchema = z.object({
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  time: z.iso.datetime(),
  detail: z.object({
    alarmName: z.string().check(z.minLength(1), z.maxLength(255)),
    state: z.object({ value: z.string(), timestamp: z.optional(z.string()) }),
  }),
});

const ec2EventSchema = z.object({
  source: z.literal('aws.ec2'),
  'detail-type': z.literal('EC2 Instance State-change Notification'),
  time: z.iso.datetime(),
  detail: z.object({
    'instance-id': z.string().check(z.regex(/^i-[0-9a-f]{8,17}$/)),
    state: z.string(),
  }),
});

export const CLUSTER_TAG = 'recoverseg:cluster';
export const HOST_TAG = 'recoverseg:host';
/** Alarms name their cluster: `recoverseg/<clusterId>/<anything>`. */
const ALARM_NAME = /^recoverseg\/([A-Za-z0-9][A-Za-z0-9_-]{0,63})\/.+$/;
const DOWN_STATES = ['stopped', 'stopping', 'terminated', 'shutting-down'];
/** Triggers within one window belong to one incident, and so start one execution. */
const INCIDENT_WINDOW_MINUTES = 10;

export type TriggerDecision =
  | {
      start: true;
      clusterId: string;
      incidentId: string;
      failedHosts: string[];
      source: 'alarm' | 'ec2';
      detail: string;
    }
  | { start: false; reason: string };

export interface InstanceTags {
  /** Tags of an EC2 instance, or undefined when it cannot be described. */
  (instanceId: string): Promise<Record<string, string> | undefined>;
}

function incidentWindow(time: string): string {
  const at = new Date(time);
  const minutes =
    Math.floor(at.getUTCMinutes() / INCIDENT_WINDOW_MINUTES) * INCIDENT_WINDOW_MINUTES;
  at.setUTCMinutes(minutes, 0, 0);
  return at
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 12);
}

/** Which cluster an EventBridge event concerns and which incident it belongs to, or why it is ignored. */
export async function decideTrigger(
  event: unknown,
  tagsOf: InstanceTags,
): Promise<TriggerDecision> {
  const alarm = alarmEventSchema.safeParse(event);
  if (alarm.success) {
    const { alarmName, state } = alarm.data.detail;
    if (state.value !== 'ALARM')
      return { start: false, reason: `alarm ${alarmName} is ${state.value}, not ALARM` };
    const clusterId = ALARM_NAME.exec(alarmName)?.[1];
    if (!clusterId)
      return {
        start: false,
        reason: `alarm ${alarmName} does not name a cluster (recoverseg/<clusterId>/...)`,
      };
    return {
      start: true,
      clusterId,
      incidentId: `alarm-${incidentWindow(alarm.data.time)}`,
      failedHosts: [],
      source: 'alarm',
      detail: `alarm ${alarmName}`,
    };
  }
  const ec2 = ec2EventSchema.safeParse(event);
  if (ec2.success) {
    const { 'instance-id': instanceId, state } = ec2.data.detail;
    if (!DOWN_STATES.includes(state))
      return { start: false, reason: `instance ${instanceId} is ${state}` };
    const tags = await tagsOf(instanceId);
    const clusterId = clusterIdSchema.safeParse(tags?.[CLUSTER_TAG]);
    if (!clusterId.success)
      return { start: false, reason: `instance ${instanceId} has no valid ${CLUSTER_TAG} tag` };
    const host = hostnameSchema.safeParse(tags?.[HOST_TAG]);
    return {
      start: true,
      clusterId: clusterId.data,
      incidentId: `ec2-${incidentWindow(ec2.data.time)}`,
      failedHosts: host.success ? [host.data] : [],
      source: 'ec2',
      detail: `instance ${instanceId} ${state}${host.success ? ` (host ${host.data})` : ''}`,
    };
  }
  return {
    start: false,
    reason: 'not a CloudWatch alarm state change or an EC2 instance state change',
  };
}
