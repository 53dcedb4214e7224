import type { Node } from 'constructs';
import { DEFAULT_SETTINGS, validateSettings } from '#cluster/greenplum/commands.ts';
import { clusterIdSchema } from '#domain/events.ts';
import { hostnameSchema } from '#domain/segment.ts';
import { EC2_INSTANCE_ID } from '#cluster/aws/ec2-fence.ts';
import { parseCoordinatorRecord, type CoordinatorRecord } from '#cluster/aws/route53-endpoint.ts';

/** The cluster a deployment drives, read from CDK context (`cdk.json` or `-c key=value`). */
export type DeploymentSettings = {
  /** Minutes between two looks of the watcher at `clusterId` (default 1); 0: no watcher. */
  watchMinutes: number;
} & (
  | { clusterBackend: 'simulated'; clusterId?: string }
  | {
      clusterBackend: 'ssm';
      clusterId: string;
      coordinatorInstanceId: string;
      gphome?: string;
      coordinatorDataDirectory?: string;
      /** The Greenplum admin user the scripts run as (default gpadmin). */
      adminUser?: string;
      /** The coordinator's port (default 5432). */
      coordinatorPort?: number;
      /** The coordinator instance's IAM role: the stack attaches what its SSM Agent needs. */
      coordinatorRoleName?: string;
      /** The standby coordinator: where a failover activates, and what fences the coordinator. */
      standby?: StandbySettings;
      /** The Route 53 record clients find the coordinator by, moved by a failover. */
      coordinatorRecord?: CoordinatorRecord;
    }
);

export interface StandbySettings {
  instanceId: string;
  /** Both coordinators' hostnames as gp_segment_configuration spells them. */
  coordinatorHost: string;
  standbyHost: string;
  /** The standby instance's IAM role, as coordinatorRoleName. */
  roleName?: string;
}

export const CONTEXT = {
  clusterBackend: 'recoverseg:clusterBackend',
  clusterId: 'recoverseg:clusterId',
  coordinatorInstanceId: 'recoverseg:coordinatorInstanceId',
  gphome: 'recoverseg:gphome',
  coordinatorDataDirectory: 'recoverseg:coordinatorDataDirectory',
  adminUser: 'recoverseg:adminUser',
  coordinatorPort: 'recoverseg:coordinatorPort',
  coordinatorRoleName: 'recoverseg:coordinatorRoleName',
  standbyInstanceId: 'recoverseg:standbyInstanceId',
  coordinatorHost: 'recoverseg:coordinatorHost',
  standbyHost: 'recoverseg:standbyHost',
  standbyRoleName: 'recoverseg:standbyRoleName',
  coordinatorRecord: 'recoverseg:coordinatorRecord',
  watchMinutes: 'recoverseg:watchMinutes',
} as const;

/** A day between looks at most: the watcher-stopped alarm waits three intervals. */
const MAX_WATCH_MINUTES = 1440;

/** Minutes between two looks of the watcher: a whole number, 0 (no watcher) to a day. */
function watchMinutes(node: Node): number {
  const value: unknown = node.tryGetContext(CONTEXT.watchMinutes);
  if (value === undefined || value === null || value === '') return 1;
  const minutes = Number(value);
  if (!Number.isInteger(minutes) || minutes < 0 || minutes > MAX_WATCH_MINUTES)
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.watchMinutes} must be a whole number of minutes from 0 (no watcher) to ${MAX_WATCH_MINUTES}, got ${JSON.stringify(value)}`,
    );
  return minutes;
}

export class InvalidDeploymentContext extends Error {
  override name = 'InvalidDeploymentContext';
}

function optional(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string')
    throw new InvalidDeploymentContext(
      `context ${key} must be a string, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** The settings of a failover: a real standby coordinator, so the SSM backend only. */
const FAILOVER_KEYS = [
  CONTEXT.standbyInstanceId,
  CONTEXT.coordinatorHost,
  CONTEXT.standbyHost,
  CONTEXT.standbyRoleName,
  CONTEXT.coordinatorRecord,
] as const;

function roleName(node: Node, key: string): string | undefined {
  const name = optional(node, key);
  if (name !== undefined && !/^[\w+=,.@-]{1,64}$/.test(name))
    throw new InvalidDeploymentContext(
      `context ${key} must be an IAM role name (not its ARN), got ${JSON.stringify(name)}`,
    );
  return name;
}

/**
 * The standby's instance and both hosts' catalog names go together: a failover addresses the
 * standby's host through its instance, and fences the coordinator's by stopping its instance.
 */
function standbySettings(node: Node, coordinatorInstanceId: string): StandbySettings | undefined {
  const instanceId = optional(node, CONTEXT.standbyInstanceId);
  const coordinatorHost = optional(node, CONTEXT.coordinatorHost);
  const standbyHost = optional(node, CONTEXT.standbyHost);
  const given = { instanceId, coordinatorHost, standbyHost };
  if (Object.values(given).every((v) => v === undefined)) {
    if (optional(node, CONTEXT.standbyRoleName) !== undefined)
      throw new InvalidDeploymentContext(
        `context ${CONTEXT.standbyRoleName} names the role of the standby's instance: give ${CONTEXT.standbyInstanceId} too`,
      );
    return undefined;
  }
  if (!instanceId || !coordinatorHost || !standbyHost) {
    const missing = [
      ...(instanceId ? [] : [CONTEXT.standbyInstanceId]),
      ...(coordinatorHost ? [] : [CONTEXT.coordinatorHost]),
      ...(standbyHost ? [] : [CONTEXT.standbyHost]),
    ];
    throw new InvalidDeploymentContext(
      `a standby coordinator needs ${CONTEXT.standbyInstanceId}, ${CONTEXT.coordinatorHost} and ${CONTEXT.standbyHost} together; missing ${missing.join(' and ')} (for example: -c ${CONTEXT.standbyInstanceId}=i-0fedcba9876543210 -c ${CONTEXT.coordinatorHost}=mdw -c ${CONTEXT.standbyHost}=smdw)`,
    );
  }
  if (!EC2_INSTANCE_ID.test(instanceId))
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.standbyInstanceId} must be an EC2 instance id (i-…), got ${JSON.stringify(instanceId)}`,
    );
  // The fence stops the coordinator's instance: on one instance, it would stop the standby too.
  if (instanceId === coordinatorInstanceId)
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.standbyInstanceId} is the coordinator's instance ${instanceId}: a standby on the coordinator's instance dies with it, and fencing the coordinator would stop it; give the standby its own instance`,
    );
  for (const [key, host] of [
    [CONTEXT.coordinatorHost, coordinatorHost],
    [CONTEXT.standbyHost, standbyHost],
  ] as const)
    if (!hostnameSchema.safeParse(host).success)
      throw new InvalidDeploymentContext(
        `context ${key} must be the host's name in gp_segment_configuration (letters, digits, ".", "-", "_"), got ${JSON.stringify(host.slice(0, 80))}`,
      );
  if (coordinatorHost === standbyHost)
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.coordinatorHost} and ${CONTEXT.standbyHost} are both ${coordinatorHost}: the coordinator and its standby are on two hosts, each named as the catalog names it`,
    );
  const standbyRoleName = roleName(node, CONTEXT.standbyRoleName);
  return {
    instanceId,
    coordinatorHost,
    standbyHost,
    ...(standbyRoleName ? { roleName: standbyRoleName } : {}),
  };
}

function coordinatorRecord(node: Node, standby: StandbySettings | undefined) {
  const text = optional(node, CONTEXT.coordinatorRecord);
  if (text === undefined) return undefined;
  // Only a failover moves it, and only a stack that knows the standby fails over.
  if (!standby)
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.coordinatorRecord} is moved by a coordinator failover: give the standby too (${CONTEXT.standbyInstanceId}, ${CONTEXT.coordinatorHost}, ${CONTEXT.standbyHost})`,
    );
  try {
    return parseCoordinatorRecord(text);
  } catch (error) {
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.coordinatorRecord} ${(error as Error).message}`,
    );
  }
}

export function deploymentSettings(node: Node): DeploymentSettings {
  const backend = optional(node, CONTEXT.clusterBackend) ?? 'simulated';
  const clusterId = optional(node, CONTEXT.clusterId);
  // The watcher's schedule sends it and every handler parses it: a bad one fails here.
  if (clusterId !== undefined && !clusterIdSchema.safeParse(clusterId).success)
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.clusterId} must be a cluster id (letters, digits, "-", "_", at most 64), got ${JSON.stringify(clusterId)}`,
    );
  const watch = { watchMinutes: watchMinutes(node) };
  const failoverKey = FAILOVER_KEYS.find((key) => optional(node, key) !== undefined);
  if (backend === 'simulated' && failoverKey)
    throw new InvalidDeploymentContext(
      `context ${failoverKey} describes a real standby coordinator: it needs ${CONTEXT.clusterBackend}=ssm (the simulated backend has no instances to fence or records to move)`,
    );
  if (backend === 'simulated')
    return { ...watch, clusterBackend: 'simulated', ...(clusterId ? { clusterId } : {}) };
  if (backend !== 'ssm')
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.clusterBackend} must be "simulated" or "ssm", got "${backend}"`,
    );

  const coordinatorInstanceId = optional(node, CONTEXT.coordinatorInstanceId);
  const missing = [
    ...(clusterId ? [] : [CONTEXT.clusterId]),
    ...(coordinatorInstanceId ? [] : [CONTEXT.coordinatorInstanceId]),
  ];
  if (missing.length > 0 || !clusterId || !coordinatorInstanceId)
    throw new InvalidDeploymentContext(
      `${CONTEXT.clusterBackend}=ssm drives one real coordinator host and needs ${missing.join(' and ')} (for example: cdk synth -c ${CONTEXT.clusterBackend}=ssm -c ${CONTEXT.clusterId}=prod -c ${CONTEXT.coordinatorInstanceId}=i-0123456789abcdef0)`,
    );
  // The id goes into the SendCommand resource ARN: a typo must fail here, not as AccessDenied at 3 am.
  if (!EC2_INSTANCE_ID.test(coordinatorInstanceId))
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.coordinatorInstanceId} must be an EC2 instance id (i-…), got "${coordinatorInstanceId}"`,
    );
  const gphome = optional(node, CONTEXT.gphome);
  const coordinatorDataDirectory = optional(node, CONTEXT.coordinatorDataDirectory);
  const adminUser = optional(node, CONTEXT.adminUser);
  const coordinatorRoleName = roleName(node, CONTEXT.coordinatorRoleName);
  const standby = standbySettings(node, coordinatorInstanceId);
  const record = coordinatorRecord(node, standby);
  const port: unknown = node.tryGetContext(CONTEXT.coordinatorPort);
  const coordinatorPort =
    port === undefined || port === null || port === '' ? undefined : Number(port);
  // They reach a shell on the coordinator: a bad value fails the synth, naming its context key.
  try {
    validateSettings(
      {
        gphome: gphome ?? DEFAULT_SETTINGS.gphome,
        coordinatorDataDirectory:
          coordinatorDataDirectory ?? DEFAULT_SETTINGS.coordinatorDataDirectory,
        adminUser: adminUser ?? DEFAULT_SETTINGS.adminUser,
        port: coordinatorPort ?? DEFAULT_SETTINGS.port,
      },
      CONTEXT,
    );
  } catch (error) {
    throw new InvalidDeploymentContext(`context ${(error as Error).message}`);
  }
  return {
    ...watch,
    clusterBackend: 'ssm',
    clusterId,
    coordinatorInstanceId,
    ...(gphome ? { gphome } : {}),
    ...(coordinatorDataDirectory ? { coordinatorDataDirectory } : {}),
    ...(adminUser ? { adminUser } : {}),
    ...(coordinatorPort === undefined ? {} : { coordinatorPort }),
    ...(coordinatorRoleName ? { coordinatorRoleName } : {}),
    ...(standby ? { standby } : {}),
    ...(record ? { coordinatorRecord: record } : {}),
  };
}
