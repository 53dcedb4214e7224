import { checkSync } from '#app/steps.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('CheckSync', checkSync, {
  cluster: clusterBackendFromEnv,
  sns: () => import('@aws-sdk/client-sns'),
});
