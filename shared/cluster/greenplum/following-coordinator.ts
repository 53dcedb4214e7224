import type { SegmentRow } from '#domain/segment.ts';
import type { CoordinatorSettings } from '#cluster/greenplum/commands.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import type { CoordinatorTransport } from '#cluster/transport/transport.ts';
import type { HostTransports } from '#cluster/transport/hosts.ts';

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
