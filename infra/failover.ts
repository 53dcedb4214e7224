import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { HOST_INSTANCES_ENV } from '#cluster/host-instances.ts';
import {
  COORDINATOR_RECORD_ENV,
  RECORD_TYPES,
  formatCoordinatorRecord,
} from '#cluster/aws/route53-endpoint.ts';
import type { DeploymentSettings } from '#infra/settings.ts';

type SsmSettings = Extract<DeploymentSettings, { clusterBackend: 'ssm' }>;

/** The instances a deployment drives over SSM: the coordinator's, and the standby's if any. */
export const clusterInstanceIds = (settings: SsmSettings): string[] => [
  settings.coordinatorInstanceId,
  ...(settings.standby ? [settings.standby.instanceId] : []),
];

/** CLUSTER_HOST_INSTANCES for every function, when the stack knows both coordinators' hosts. */
export function hostInstancesEnvironment(settings: DeploymentSettings): Record<string, string> {
  if (settings.clusterBackend !== 'ssm' || !settings.standby) return {};
  const { coordinatorHost, standbyHost, instanceId } = settings.standby;
  return {
    [HOST_INSTANCES_ENV]: JSON.stringify({
      [coordinatorHost]: settings.coordinatorInstanceId,
      [standbyHost]: instanceId,
    }),
  };
}

const instanceArn = (stack: Stack, instanceId: string): string =>
  stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: instanceId });

/**
 * What a failover needs beyond driving the cluster, each to one function: FenceCoordinator
 * stops either coordinator's instance (after a failover the standby is the coordinator a
 * failback fences) and reads its state; MoveClients UPSERTs the one record, nothing else in
 * its zone. Nothing is granted when the stack knows no standby.
 */
export function grantFailover(
  settings: SsmSettings,
  fence: lambda.Function,
  mover: lambda.Function,
): void {
  if (!settings.standby) return;
  const stack = Stack.of(fence);
  fence.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:StopInstances'],
      resources: clusterInstanceIds(settings).map((id) => instanceArn(stack, id)),
    }),
  );
  fence.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['ec2:DescribeInstances'], resources: ['*'] }),
  );
  const record = settings.coordinatorRecord;
  if (!record) return;
  mover.addEnvironment(COORDINATOR_RECORD_ENV, formatCoordinatorRecord(record));
  mover.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['route53:ChangeResourceRecordSets'],
      resources: [
        stack.formatArn({
          service: 'route53',
          region: '',
          account: '',
          resource: 'hostedzone',
          resourceName: record.hostedZoneId,
        }),
      ],
      // The zone holds other records: the change may only UPSERT this name, as A or CNAME.
      conditions: {
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': [record.name],
          'route53:ChangeResourceRecordSetsRecordTypes': [...RECORD_TYPES],
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
        },
      },
    }),
  );
}
