import { SSMClient } from '@aws-sdk/client-ssm';
import type { SegmentRow } from '#domain/segment.ts';
import type { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { followingCoordinator } from '#cluster/greenplum/following-coordinator.ts';
import { coordinatorSettingsFromEnv } from '#cluster/greenplum/settings-env.ts';
import { HOST_INSTANCES_ENV, parseHostInstances } from '#cluster/host-instances.ts';
import { SsmTransport } from '#cluster/transport/ssm.ts';
import { ssmToEachHost } from '#cluster/transport/hosts.ts';
import { OUTPUT_BUCKET_ENV } from '#cluster/ssm/output.ts';
import { clientOnFirstUse } from '#cluster/aws/client-on-first-use.ts';
import { ClusterNotServed, servedCluster, type BackendFactory } from '#cluster/backend.ts';

/**
 * `CLUSTER_BACKEND=ssm`: the one cluster this deployment serves (CLUSTER_ID), through SSM Run
 * Command to COORDINATOR_INSTANCE_ID. RUN_COMMAND_OUTPUT_BUCKET names the bucket SSM writes
 * whole answers to (the stack's), for those over its inline limit, and CLUSTER_HOST_INSTANCES
 * (`{"mdw":"i-…","smdw":"i-…"}`) the instance of each host the coordinator's failover runs on:
 * without it there is no failover over SSM.
 */
export const ssmBackend =
  (env: NodeJS.ProcessEnv): BackendFactory =>
  (_doc, _tables, _clock, ssm) => {
    const instanceId = env.COORDINATOR_INSTANCE_ID;
    if (!instanceId || !env.CLUSTER_ID)
      throw new ClusterNotServed(
        'CLUSTER_BACKEND=ssm needs COORDINATOR_INSTANCE_ID and CLUSTER_ID',
      );
    // Made with the backend, at a Task's first call, and only for this backend: a client's
    // construction (its config, credential and endpoint chains) costs some 6 ms.
    return servedCluster(
      env.CLUSTER_ID,
      instanceId,
      greenplumOverSsm(ssm ?? new SSMClient({}), instanceId, env),
    );
  };

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
