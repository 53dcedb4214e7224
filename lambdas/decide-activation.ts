import { decideActivation } from '#app/failover.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('DecideActivation', decideActivation, {
  cluster: clusterBackendFromEnv,
  sns: () => import('@aws-sdk/client-sns'),
});
