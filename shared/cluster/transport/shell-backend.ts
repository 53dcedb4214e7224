import { ValidationError } from '#domain/errors.ts';
import type { SegmentRow } from '#domain/segment.ts';
import {
  DEFAULT_SETTINGS,
  validateSettings,
  type CoordinatorSettings,
} from '#cluster/greenplum/commands.ts';
import type { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { followingCoordinator } from '#cluster/greenplum/following-coordinator.ts';
import { coordinatorSettingsFromEnv } from '#cluster/greenplum/settings-env.ts';
import { LocalTransport } from '#cluster/transport/local.ts';
import { SshTransport } from '#cluster/transport/ssh.ts';
import { sameShell, sshToEachHost } from '#cluster/transport/hosts.ts';
import { ClusterNotServed, servedCluster, type BackendFactory } from '#cluster/backend.ts';

/**
 * `CLUSTER_BACKEND=local|ssh`: the one cluster this deployment serves (CLUSTER_ID), through a
 * shell on the coordinator itself or ssh to COORDINATOR_HOST.
 */
export const shellBackendFromEnv =
  (env: NodeJS.ProcessEnv, transport: 'local' | 'ssh'): BackendFactory =>
  () => {
    if (!env.CLUSTER_ID)
      throw new ClusterNotServed(`CLUSTER_BACKEND=${transport} needs CLUSTER_ID`);
    return servedCluster(
      env.CLUSTER_ID,
      env.COORDINATOR_HOST ?? 'this host',
      shellBackend({
        transport,
        ...(env.COORDINATOR_HOST ? { coordinator: env.COORDINATOR_HOST } : {}),
        settings: coordinatorSettingsFromEnv(env),
      }),
    );
  };

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
