import { ClusterError } from '#cluster/greenplum/errors.ts';
import type { CoordinatorTransport } from './transport.ts';
import { SshTransport, type SshTransportOptions } from './ssh.ts';
import { SsmTransport, type SsmTransportOptions } from './ssm.ts';
import { HOST_INSTANCES_ENV } from '#cluster/host-instances.ts';

/**
 * The transport to a host of the cluster, by its catalog host name: the coordinator's failover
 * runs on the coordinator's and the standby's hosts, wherever the coordinator has moved to.
 */
export type HostTransports = (hostname: string) => CoordinatorTransport;

/** A host recoverseg has no SSM instance for. */
export class HostNotManaged extends ClusterError {
  override name = 'HostNotManaged';
  constructor(readonly host: string) {
    super(
      `no SSM instance is set for host ${host}: add "${host}":"i-…" to ${HOST_INSTANCES_ENV} (the stack's recoverseg:coordinatorHost and recoverseg:standbyHost with their instance ids), then retry`,
    );
  }
}

/** One machine (`--transport local`; a test cluster of loopback aliases): the same shell for all. */
export const sameShell =
  (transport: CoordinatorTransport): HostTransports =>
  () =>
    transport;

/** ssh to each host by its catalog name, as Greenplum's own tools reach it. */
export function sshToEachHost(options: Omit<SshTransportOptions, 'coordinator'>): HostTransports {
  const byHost = new Map<string, SshTransport>();
  return (hostname) => {
    let transport = byHost.get(hostname);
    if (!transport) {
      transport = new SshTransport({ ...options, coordinator: hostname });
      byHost.set(hostname, transport);
    }
    return transport;
  };
}

/** SSM Run Command on each host's instance; a host without one is HostNotManaged. */
export function ssmToEachHost(
  options: Omit<SsmTransportOptions, 'instanceId' | 'host'>,
  instances: Readonly<Record<string, string>>,
): HostTransports {
  const byHost = new Map<string, SsmTransport>();
  return (hostname) => {
    const instanceId = Object.hasOwn(instances, hostname) ? instances[hostname] : undefined;
    if (instanceId === undefined) throw new HostNotManaged(hostname);
    let transport = byHost.get(hostname);
    if (!transport) {
      transport = new SsmTransport({ ...options, instanceId, host: hostname });
      byHost.set(hostname, transport);
    }
    return transport;
  };
}
