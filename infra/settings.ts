import type { Node } from 'constructs';
import { DEFAULT_SETTINGS, validateSettings } from '#cluster/greenplum/commands.ts';
import { clusterIdSchema } from '#domain/events.ts';

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
    }
);

export const CONTEXT = {
  clusterBackend: 'recoverseg:clusterBackend',
  clusterId: 'recoverseg:clusterId',
  coordinatorInstanceId: 'recoverseg:coordinatorInstanceId',
  gphome: 'recoverseg:gphome',
  coordinatorDataDirectory: 'recoverseg:coordinatorDataDirectory',
  adminUser: 'recoverseg:adminUser',
  coordinatorPort: 'recoverseg:coordinatorPort',
  coordinatorRoleName: 'recoverseg:coordinatorRoleName',
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

export function deploymentSettings(node: Node): DeploymentSettings {
  const backend = optional(node, CONTEXT.clusterBackend) ?? 'simulated';
  const clusterId = optional(node, CONTEXT.clusterId);
  // The watcher's schedule sends it and every handler parses it: a bad one fails here.
  if (clusterId !== undefined && !clusterIdSchema.safeParse(clusterId).success)
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.clusterId} must be a cluster id (letters, digits, "-", "_", at most 64), got ${JSON.stringify(clusterId)}`,
    );
  const watch = { watchMinutes: watchMinutes(node) };
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
  if (!/^i-[0-9a-f]{8,17}$/.test(coordinatorInstanceId))
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.coordinatorInstanceId} must be an EC2 instance id (i-…), got "${coordinatorInstanceId}"`,
    );
  const gphome = optional(node, CONTEXT.gphome);
  const coordinatorDataDirectory = optional(node, CONTEXT.coordinatorDataDirectory);
  const adminUser = optional(node, CONTEXT.adminUser);
  const coordinatorRoleName = optional(node, CONTEXT.coordinatorRoleName);
  if (coordinatorRoleName !== undefined && !/^[\w+=,.@-]{1,64}$/.test(coordinatorRoleName))
    throw new InvalidDeploymentContext(
      `context ${CONTEXT.coordinatorRoleName} must be an IAM role name (not its ARN), got ${JSON.stringify(coordinatorRoleName)}`,
    );
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
  };
}
