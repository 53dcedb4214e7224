import type * as ec2 from '@aws-sdk/client-ec2';
import { clientOnFirstUse } from '#cluster/aws/client-on-first-use.ts';

/** An EC2 instance id (not an SSM managed node's mi-…): what StopInstances and its ARN take. */
export const EC2_INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** Catalog hostname -> instance id: CLUSTER_HOST_INSTANCES, parsed (transport/hosts.ts). */
export type HostInstances = Readonly<Record<string, string>>;

/**
 * The instance to stop to fence `hostname`: none when the host is not in the mapping, is an SSM
 * managed node rather than an EC2 instance, or when its instance also carries another catalog
 * host (stopping it would take that host down too): the fence then falls back to the host's own
 * shell, or to an operator's approval.
 */
export function fenceableInstance(hosts: HostInstances, hostname: string): string | undefined {
  const instanceId = Object.hasOwn(hosts, hostname) ? hosts[hostname] : undefined;
  if (instanceId === undefined || !EC2_INSTANCE_ID.test(instanceId)) return undefined;
  const shared = Object.entries(hosts).some(
    ([other, id]) => other !== hostname && id === instanceId,
  );
  return shared ? undefined : instanceId;
}

/** StopInstances refused: the instance is in a state it cannot be stopped from (pending, terminated). */
export class InstanceNotStoppable extends Error {
  override name = 'InstanceNotStoppable';
}

/** An instance id that is not one of the deployment's hosts, or that EC2 does not know. */
export class UnknownInstance extends Error {
  override name = 'UnknownInstance';
}

export type Ec2Sdk = typeof ec2;

/**
 * The fence on AWS (the application's InstanceFence): StopInstances with Force on the old
 * coordinator's instance (no shutdown scripts, no flush: the postmaster dies with the instance),
 * then its state until `stopped`. Only instances of the deployment's hosts
 * (CLUSTER_HOST_INSTANCES) are ever stopped; IAM says the same. Every failover step asks which
 * instance fences a host; only FenceCoordinator stops one, so only it passes `sdk`, the EC2
 * client's loader: the client is 1.2 MB of bundle, which every other Task would read at each
 * cold start.
 */
export class Ec2Fence {
  private readonly ec2: (() => Promise<{ sdk: Ec2Sdk; client: ec2.EC2Client }>) | undefined;

  constructor(
    private readonly hosts: HostInstances,
    sdk?: () => Promise<Ec2Sdk>,
  ) {
    this.ec2 = sdk && clientOnFirstUse(sdk, (loaded) => new loaded.EC2Client({}));
  }

  instanceOf(hostname: string): string | undefined {
    return fenceableInstance(this.hosts, hostname);
  }

  async stop(instanceId: string): Promise<void> {
    const { sdk, client } = await this.client(instanceId);
    try {
      await client.send(new sdk.StopInstancesCommand({ InstanceIds: [instanceId], Force: true }));
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'IncorrectInstanceState') throw error;
      throw new InstanceNotStoppable(
        `EC2 instance ${instanceId} (${this.hostOf(instanceId)}) cannot be stopped now (${error.message.slice(0, 300)}); nothing was activated: see its state in the EC2 console, stop it yourself if it runs, then start the failover again`,
      );
    }
  }

  async state(instanceId: string): Promise<string> {
    const { sdk, client } = await this.client(instanceId);
    const { Reservations = [] } = await client.send(
      new sdk.DescribeInstancesCommand({ InstanceIds: [instanceId] }),
    );
    const instance = Reservations.flatMap((r) => r.Instances ?? []).find(
      (i) => i.InstanceId === instanceId,
    );
    const state = instance?.State?.Name;
    if (state === undefined)
      throw new UnknownInstance(
        `EC2 does not describe instance ${instanceId} (${this.hostOf(instanceId)}): check recoverseg:coordinatorInstanceId and recoverseg:standbyInstanceId, and the stack's region`,
      );
    return state;
  }

  private hostOf(instanceId: string): string {
    const host = Object.entries(this.hosts).find(([, id]) => id === instanceId)?.[0];
    return host ? `host ${host}` : 'no host of this deployment';
  }

  private client(instanceId: string) {
    // Never an instance the deployment was not told about, whatever reached this call.
    if (!Object.values(this.hosts).includes(instanceId))
      throw new UnknownInstance(
        `EC2 instance ${JSON.stringify(instanceId.slice(0, 40))} is not the instance of any host of this deployment (CLUSTER_HOST_INSTANCES); recoverseg stops no other`,
      );
    if (!this.ec2)
      throw new Error(
        `instance ${instanceId}: this function has no EC2 client; only FenceCoordinator stops instances`,
      );
    return this.ec2();
  }
}
