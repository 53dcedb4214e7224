import { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClusterOperations } from '#cluster/port.ts';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import { SsmClusterOperations } from '#cluster/ssm/ssm-cluster-operations.ts';
import type { TableNames } from '#store/tables.ts';
import { simulationOptionsSchema } from '#cluster/simulated/options.ts';
import { parseOrThrow } from '#domain/validation.ts';
import type { Simulator } from '#api/routes.ts';

/** The deployment serves a cluster it was not configured for. */
export class ClusterNotServed extends Error {
  override name = 'ClusterNotServed';
}

export type ClusterBackend = (clusterId: string) => ClusterOperations;

/**
 * The cluster behind the port, chosen by the deployment (CDK context -> environment):
 * `simulated` keeps each cluster's simulation in the Control table; `ssm` drives the one
 * coordinator this deployment was given.
 */
export function clusterBackendFromEnv(
  doc: DynamoDBDocumentClient,
  tables: TableNames,
  env: NodeJS.ProcessEnv = process.env,
  clock: () => number = Date.now,
): ClusterBackend {
  if ((env.CLUSTER_BACKEND ?? 'simulated') === 'simulated')
    return (clusterId) => new SimulatedCluster({ doc, tables, clusterId, clock });
  const instanceId = env.COORDINATOR_INSTANCE_ID;
  const served = env.CLUSTER_ID;
  if (!instanceId || !served)
    throw new ClusterNotServed('CLUSTER_BACKEND=ssm needs COORDINATOR_INSTANCE_ID and CLUSTER_ID');
  const ssm = new SSMClient({});
  const operations = new SsmClusterOperations({
    ssm,
    instanceId,
    ...(env.GPHOME ? { gphome: env.GPHOME } : {}),
    ...(env.COORDINATOR_DATA_DIRECTORY
      ? { coordinatorDataDirectory: env.COORDINATOR_DATA_DIRECTORY }
      : {}),
  });
  return (clusterId) => {
    if (clusterId !== served)
      throw new ClusterNotServed(
        `cluster ${clusterId} is not served by this deployment (it serves ${served} on ${instanceId})`,
      );
    return operations;
  };
}

/** Creation and fault injection for simulated clusters (the API's registration and `faults` routes). */
export function simulatorFor(
  doc: DynamoDBDocumentClient,
  tables: TableNames,
  clock: () => number = Date.now,
): Simulator {
  const sim = (clusterId: string) => new SimulatedCluster({ doc, tables, clusterId, clock });
  return {
    validate: (simulation) =>
      void parseOrThrow(simulationOptionsSchema, simulation, 'body.simulation'),
    create: (clusterId, segments, simulation) =>
      sim(clusterId).create(
        segments,
        parseOrThrow(simulationOptionsSchema, simulation, 'body.simulation'),
      ),
    inject: async (clusterId, fault) => {
      const cluster = sim(clusterId);
      if ('host' in fault) return cluster.failHost(fault.host);
      return fault.kind === 'disk-lost'
        ? cluster.loseDataDirectory(fault.dbid)
        : cluster.crashSegment(fault.dbid);
    },
  };
}
