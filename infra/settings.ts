import type { Node } from 'constructs';

/** The cluster a deployment drives, read from CDK context (`cdk.json` or `-c key=value`). */
export type DeploymentSettings =
  | { clusterBackend: 'simulated'; clusterId?: string }
  | {
      clusterBackend: 'ssm';
      clusterId: string;
      coordinatorInstanceId: string;
      gphome?: string;
      coordinatorDataDirectory?: string;
    };

export const CONTEXT = {
  clusterBackend: 'recoverseg:clusterBackend',
  clusterId: 'recoverseg:clusterId',
  coordinatorInstanceId: 'recoverseg:coordinatorInstanceId',
  gphome: 'recoverseg:gphome',
  coordinatorDataDirectory: 'recoverseg:coordinatorDataDirectory',
} as const;

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
  if (backend === 'simulated')
    return clusterId ? { clusterBackend: 'simulated', clusterId } : { clusterBackend: 'simulated' };
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
  return {
    clusterBackend: 'ssm',
    clusterId,
    coordinatorInstanceId,
    ...(gphome ? { gphome } : {}),
    ...(coordinatorDataDirectory ? { coordinatorDataDirectory } : {}),
  };
}
