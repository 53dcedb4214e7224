import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Simulator } from '#cluster/port.ts';
import type { TableNames } from '#store/tables.ts';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import { simulationOptionsSchema } from '#cluster/simulated/options.ts';
import { parseOrThrow } from '#domain/validation.ts';
import type { BackendFactory } from '#cluster/backend.ts';

/** Each cluster's simulation, kept in the Control table. */
const simulatedClusters =
  (doc: DynamoDBDocumentClient, tables: TableNames, clock: () => number = Date.now) =>
  (clusterId: string) =>
    new SimulatedCluster({ doc, tables, clusterId, clock });

/** `CLUSTER_BACKEND=simulated`. */
export const simulatedBackend: BackendFactory = simulatedClusters;

/** Creation and fault injection for simulated clusters (the API's registration and `faults` routes). */
export function simulatorFor(
  doc: DynamoDBDocumentClient,
  tables: TableNames,
  clock?: () => number,
): Simulator {
  return simulatorOver(simulatedClusters(doc, tables, clock));
}

/** The Simulator over simulated clusters kept anywhere (the Control table, or memory in tests). */
export function simulatorOver(sim: (clusterId: string) => SimulatedCluster): Simulator {
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
      if (fault.kind === 'standby-lag') return cluster.lagStandby(fault.dbid, fault.bytes);
      return fault.kind === 'disk-lost'
        ? cluster.loseDataDirectory(fault.dbid)
        : cluster.crashSegment(fault.dbid);
    },
  };
}
