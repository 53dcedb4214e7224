import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClusterOperations } from '#cluster/port.ts';
import type { SegmentRow } from '#domain/segment.ts';
import type { TableNames } from '#store/tables.ts';

/** The deployment serves a cluster it was not configured for. */
export class ClusterNotServed extends Error {
  override name = 'ClusterNotServed';
}

/**
 * The operations of one cluster. `coordinator` is the coordinator's row on record (content -1,
 * role p): after a failover it is the activated standby, on another host, port and data
 * directory than the deployment was configured with, and a real adapter addresses it there.
 */
export type ClusterBackend = (clusterId: string, coordinator?: SegmentRow) => ClusterOperations;

/**
 * The backend of a deployment, made once per process from its stores. It refuses a bad or
 * missing setting when made (a Task's first call), naming it; `ssm` is for tests.
 */
export type BackendFactory = (
  doc: DynamoDBDocumentClient,
  tables: TableNames,
  clock?: () => number,
  ssm?: SSMClient,
) => ClusterBackend;

/** The backend a deployment names (CLUSTER_BACKEND), simulated when it names none. */
export const clusterBackendName = (env: NodeJS.ProcessEnv): string =>
  env.CLUSTER_BACKEND ?? 'simulated';

/**
 * The cluster behind the port, chosen by the deployment (CDK context -> environment, or
 * `recoverseg serve` flags -> environment): `simulated` keeps each cluster's simulation in the
 * Control table; `ssm`, `local` and `ssh` drive the one cluster this deployment serves
 * (CLUSTER_ID), through SSM Run Command (COORDINATOR_INSTANCE_ID), a shell on the coordinator
 * itself, or ssh to COORDINATOR_HOST.
 *
 * Only the named backend's module is loaded: a Lambda awaits this at init (its entry's
 * top-level await), so an SSM deployment never parses the simulator, nor a simulated one the
 * SSM client, the Greenplum adapter and the transports (`npm run bench -- coldStart`). A name
 * it does not know is refused when the factory is called, as a bad setting is.
 */
export async function loadClusterBackend(
  env: NodeJS.ProcessEnv = process.env,
): Promise<BackendFactory> {
  const backend = clusterBackendName(env);
  switch (backend) {
    case 'simulated':
      return (await import('#cluster/simulated/backend.ts')).simulatedBackend;
    case 'ssm':
      return (await import('#cluster/ssm/backend.ts')).ssmBackend(env);
    case 'local':
    case 'ssh':
      return (await import('#cluster/transport/shell-backend.ts')).shellBackendFromEnv(
        env,
        backend,
      );
    default:
      return () => {
        throw new ClusterNotServed(
          `CLUSTER_BACKEND=${backend}: expected simulated, ssm, local or ssh`,
        );
      };
  }
}

/**
 * The one cluster a real backend serves (`served`, its CLUSTER_ID, on `where`): any other
 * cluster id is refused, naming both.
 */
export function servedCluster(
  served: string,
  where: string,
  operations: (coordinator?: SegmentRow) => ClusterOperations,
): ClusterBackend {
  return (clusterId, coordinator) => {
    if (clusterId !== served)
      throw new ClusterNotServed(
        `cluster ${clusterId} is not served by this deployment (it serves ${served} on ${where})`,
      );
    return operations(coordinator);
  };
}
