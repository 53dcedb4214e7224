import { startFailover } from '#app/failover.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('StartFailover', startFailover, {
  cluster: clusterBackendFromEnv,
  sns: () => import('@aws-sdk/client-sns'),
});
