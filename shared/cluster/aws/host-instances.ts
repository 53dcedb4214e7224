import { hostnameSchema } from '#domain/segment.ts';

/**
 * The EC2 instance of each catalog host this deployment knows, as the stack writes it into every
 * Lambda: JSON `{"mdw":"i-0123456789abcdef0","smdw":"i-0fedcba9876543210"}`. The SSM transports
 * send a host's commands to its instance; the fence stops the old coordinator's.
 */
export const HOST_INSTANCES_ENV = 'CLUSTER_HOST_INSTANCES';

/** An EC2 instance id as it goes into an IAM resource ARN and an API call. */
export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** Far more hosts than a coordinator and its standby, far less than Lambda's 4 KB environment. */
const MAX_TEXT = 4096;

export class InvalidHostInstances extends Error {
  override name = 'InvalidHostInstances';
}

/** Catalog hostname -> instance id. */
export type HostInstances = ReadonlyMap<string, string>;

/**
 * The mapping, validated whole: a hostname as gp_segment_configuration spells it, an instance id
 * each. Nothing is ignored: a bad entry throws, naming it, so a deployment never fences or drives
 * a host it was not told about. An absent or empty variable is an empty mapping.
 */
export function parseHostInstances(text: string | undefined): HostInstances {
  if (text === undefined || text.trim() === '') return new Map();
  const where = `${HOST_INSTANCES_ENV} (JSON {"hostname":"i-…"})`;
  if (text.length > MAX_TEXT)
    throw new InvalidHostInstances(`${where}: ${text.length} characters, at most ${MAX_TEXT}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidHostInstances(`${where}: not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidHostInstances(`${where}: must be an object of hostname to instance id`);
  const hosts = new Map<string, string>();
  for (const [hostname, instanceId] of Object.entries(parsed)) {
    if (!hostnameSchema.safeParse(hostname).success)
      throw new InvalidHostInstances(
        `${where}: ${JSON.stringify(hostname.slice(0, 80))} is not a catalog hostname (letters, digits, ".", "-", "_")`,
      );
    if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId))
      throw new InvalidHostInstances(
        `${where}: host ${hostname} maps to ${JSON.stringify(instanceId)?.slice(0, 80)}, not an EC2 instance id (i-…)`,
      );
    hosts.set(hostname, instanceId);
  }
  return hosts;
}

/** The variable's value for a mapping (the stack writes it; parseHostInstances reads it). */
export function formatHostInstances(hosts: HostInstances): string {
  return JSON.stringify(Object.fromEntries(hosts));
}

/**
 * The instance to stop to fence `hostname`: none when the host is not in the mapping, or when
 * its instance also carries another catalog host (stopping it would take that host down too:
 * the fence falls back to the host's own shell, or to an operator's approval).
 */
export function fenceableInstance(hosts: HostInstances, hostname: string): string | undefined {
  const instanceId = hosts.get(hostname);
  if (instanceId === undefined) return undefined;
  const shared = [...hosts].some(([other, id]) => other !== hostname && id === instanceId);
  return shared ? undefined : instanceId;
}
