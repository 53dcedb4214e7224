import { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClusterOperations, Simulator } from '#cluster/port.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import { ValidationError } from '#domain/errors.ts';
import {
  DEFAULT_SETTINGS,
  validateSettings,
  type CoordinatorSettings,
} from '#cluster/greenplum/commands.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { LocalTransport } from '#cluster/transport/local.ts';
import { SshTransport } from '#cluster/transport/ssh.ts';
import { SsmTransport } from '#cluster/transport/ssm.ts';
import type { CoordinatorTransport } from '#cluster/transport/transport.ts';
import { HOST_INSTANCES_ENV, parseHostInstances } from '#cluster/host-instances.ts';
import {
  sameShell,
  sshToEachHost,
  ssmToEachHost,
  type HostTransports,
} from '#cluster/transport/hosts.ts';
import { OUTPUT_BUCKET_ENV } from '#cluster/ssm/output.ts';
import { clientOnFirstUse } from '#cluster/aws/client-on-first-use.ts';
import type { TableNames } from '#store/tables.ts';
import { simulationOptionsSchema } from '#cluster/simulated/options.ts';
import { parseOrThrow } from '#domain/validation.ts';

export { HOST_INSTANCES_ENV } from '#cluster/host-instances.ts';

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

/** The environment variable that sets each coordinator setting (CDK context -> Lambda env). */
export const SETTINGS_ENV: Record<keyof CoordinatorSettings, string> = {
  gphome: 'GPHOME',
  coordinatorDataDirectory: 'COORDINATOR_DATA_DIRECTORY',
  adminUser: 'GP_ADMIN_USER',
  port: 'COORDINATOR_PORT',
};

/** The coordinator settings an environment sets, the seed's defaults for the rest; validated. */
export function coordinatorSettingsFromEnv(env: NodeJS.ProcessEnv): CoordinatorSettings {
  const text = (key: keyof CoordinatorSettings): string | undefined => {
    const value = env[SETTINGS_ENV[key]];
    return value === undefined || value === '' ? undefined : value;
  };
  const port = text('port');
  if (port !== undefined && !/^\d{1,5}$/.test(port))
    throw new ValidationError(
      `${SETTINGS_ENV.port}: must be a port number, got ${JSON.stringify(port.slice(0, 40))}`,
      SETTINGS_ENV.port,
    );
  return validateSettings(
    {
      gphome: text('gphome') ?? DEFAULT_SETTINGS.gphome,
      coordinatorDataDirectory:
        text('coordinatorDataDirectory') ?? DEFAULT_SETTINGS.coordinatorDataDirectory,
      adminUser: text('adminUser') ?? DEFAULT_SETTINGS.adminUser,
      port: port === undefined ? DEFAULT_SETTINGS.port : Number(port),
    },
    SETTINGS_ENV,
  );
}

/**
 * The cluster behind the port, chosen by the deployment (CDK context -> environment, or
 * `recoverseg serve` flags -> environment): `simulated` keeps each cluster's simulation in the
 * Control table; `ssm`, `local` and `ssh` drive the one cluster this deployment serves
 * (CLUSTER_ID), through SSM Run Command (COORDINATOR_INSTANCE_ID), a shell on the coordinator
 * itself, or ssh to COORDINATOR_HOST. Over SSM, RUN_COMMAND_OUTPUT_BUCKET names the bucket SSM
 * writes whole answers to (the stack's), for those over its inline limit, and
 * CLUSTER_HOST_INSTANCES (`{"mdw":"i-…","smdw":"i-…"}`) the instance of each host the
 * coordinator's failover runs on: without it there is no failover over SSM.
 */
export function clusterBackendFromEnv(
  doc: DynamoDBDocumentClient,
  tables: TableNames,
  env: NodeJS.ProcessEnv = process.env,
  clock: () => number = Date.now,
  ssm?: SSMClient,
): ClusterBackend {
  const backend = env.CLUSTER_BACKEND ?? 'simulated';
  if (backend === 'simulated')
    return (clusterId) => new SimulatedCluster({ doc, tables, clusterId, clock });
  const served = env.CLUSTER_ID;
  let operations: (coordinator?: SegmentRow) => GreenplumClusterOperations;
  let where: string;
  if (backend === 'ssm') {
    const instanceId = env.COORDINATOR_INSTANCE_ID;
    if (!instanceId || !served)
      throw new ClusterNotServed(
        'CLUSTER_BACKEND=ssm needs COORDINATOR_INSTANCE_ID and CLUSTER_ID',
      );
    // Made here, not as the parameter's default: a simulated or shell backend never calls SSM,
    // and a client's construction (its config, credential and endpoint chains) costs its first
    // call some 6 ms.
    operations = greenplumOverSsm(ssm ?? new SSMClient({}), instanceId, env);
    where = instanceId;
  } else if (backend === 'local' || backend === 'ssh') {
    if (!served) throw new ClusterNotServed(`CLUSTER_BACKEND=${backend} needs CLUSTER_ID`);
    operations = shellBackend({
      transport: backend,
      ...(env.COORDINATOR_HOST ? { coordinator: env.COORDINATOR_HOST } : {}),
      settings: coordinatorSettingsFromEnv(env),
    });
    where = env.COORDINATOR_HOST ?? 'this host';
  } else
    throw new ClusterNotServed(`CLUSTER_BACKEND=${backend}: expected simulated, ssm, local or ssh`);
  return (clusterId, coordinator) => {
    if (clusterId !== served)
      throw new ClusterNotServed(
        `cluster ${clusterId} is not served by this deployment (it serves ${served} on ${where})`,
      );
    return operations(coordinator);
  };
}

function greenplumOverSsm(
  ssm: SSMClient,
  instanceId: string,
  env: NodeJS.ProcessEnv,
): (coordinator?: SegmentRow) => GreenplumClusterOperations {
  const instances = parseHostInstances(env[HOST_INSTANCES_ENV]);
  const bucket = env[OUTPUT_BUCKET_ENV];
  const options = {
    ssm,
    ...(bucket
      ? {
          output: {
            s3: clientOnFirstUse(
              () => import('@aws-sdk/client-s3'),
              (sdk) => new sdk.S3Client({}),
            ),
            bucket,
          },
        }
      : {}),
  };
  const hosts = ssmToEachHost(options, instances);
  const named = Object.values(instances).includes(instanceId);
  return followingCoordinator({
    configured: new SsmTransport({ ...options, instanceId }),
    settings: coordinatorSettingsFromEnv(env),
    // The configured coordinator's host is the one CLUSTER_HOST_INSTANCES gives its instance,
    // or, when it names no host so, any host it does not name.
    isConfigured: (hostname) =>
      named ? instances[hostname] === instanceId : !Object.hasOwn(instances, hostname),
    hosts,
    failover: Object.keys(instances).length > 0,
  });
}

export interface FollowingCoordinatorOptions {
  /** The transport to the coordinator the deployment was configured with. */
  configured: CoordinatorTransport;
  settings: CoordinatorSettings;
  /** Whether a catalog host name is the configured coordinator's host. */
  isConfigured: (hostname: string) => boolean;
  hosts: HostTransports;
  /** Whether the adapter offers the coordinator's failover (it reaches every host). */
  failover: boolean;
}

/**
 * The operations for the coordinator row on record: the configured ones while it is the
 * configured coordinator (or none is given), else the same scripts on its host, with its port
 * and data directory (after gpactivatestandby: the former standby's, capture 129).
 */
export function followingCoordinator(
  options: FollowingCoordinatorOptions,
): (coordinator?: SegmentRow) => GreenplumClusterOperations {
  const { settings, hosts } = options;
  const build = (transport: CoordinatorTransport, at: CoordinatorSettings) =>
    new GreenplumClusterOperations({
      transport,
      settings: at,
      ...(options.failover ? { hosts } : {}),
    });
  const configured = build(options.configured, settings);
  const moved = new Map<string, GreenplumClusterOperations>();
  return (coordinator) => {
    if (
      coordinator === undefined ||
      (options.isConfigured(coordinator.hostname) &&
        coordinator.port === settings.port &&
        coordinator.datadir === settings.coordinatorDataDirectory)
    )
      return configured;
    const key = `${coordinator.hostname}:${coordinator.port}:${coordinator.datadir}`;
    let operations = moved.get(key);
    if (!operations) {
      const transport = options.isConfigured(coordinator.hostname)
        ? options.configured
        : hosts(coordinator.hostname);
      operations = build(transport, {
        ...settings,
        port: coordinator.port,
        coordinatorDataDirectory: coordinator.datadir,
      });
      moved.set(key, operations);
    }
    return operations;
  };
}

export interface ShellBackendOptions {
  /** `local`: recoverseg runs on the coordinator as the admin user; `ssh`: it reaches `coordinator`. */
  transport: 'local' | 'ssh';
  coordinator?: string;
  settings?: Partial<CoordinatorSettings>;
  /** Per script. */
  timeoutMs?: number;
}

/**
 * A real cluster without AWS (`recoverseg serve --cluster-backend greenplum --transport
 * local|ssh [--coordinator HOST]`): the same scripts as over SSM, through a shell. `local` is
 * one machine (every host of a test cluster a loopback alias); `ssh` reaches each host by its
 * catalog name, so the coordinator's failover runs over both.
 */
export function greenplumOverShell(options: ShellBackendOptions): GreenplumClusterOperations {
  return shellBackend(options)();
}

function shellBackend(
  options: ShellBackendOptions,
): (coordinator?: SegmentRow) => GreenplumClusterOperations {
  const timeout = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  if (options.transport === 'local' && options.coordinator !== undefined)
    throw new ValidationError(
      '--coordinator: only --transport ssh reaches another host; --transport local runs on this one',
      '--coordinator',
    );
  if (options.transport === 'ssh' && options.coordinator === undefined)
    throw new ValidationError(
      '--coordinator: --transport ssh needs the coordinator host',
      '--coordinator',
    );
  const settings = validateSettings({ ...DEFAULT_SETTINGS, ...options.settings });
  if (options.transport === 'local') {
    const local = new LocalTransport(timeout);
    return followingCoordinator({
      configured: local,
      settings,
      isConfigured: () => true,
      hosts: sameShell(local),
      failover: true,
    });
  }
  const coordinator = options.coordinator!;
  return followingCoordinator({
    configured: new SshTransport({ coordinator, ...timeout }),
    settings,
    isConfigured: (hostname) => hostname === coordinator,
    hosts: sshToEachHost(timeout),
    failover: true,
  });
}

/** Creation and fault injection for simulated clusters (the API's registration and `faults` routes). */
export function simulatorFor(
  doc: DynamoDBDocumentClient,
  tables: TableNames,
  clock: () => number = Date.now,
): Simulator {
  return simulatorOver((clusterId) => new SimulatedCluster({ doc, tables, clusterId, clock }));
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
