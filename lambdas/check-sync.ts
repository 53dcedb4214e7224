import { checkSync } from '#app/steps.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('CheckSync', checkSync, {
  cluster: await loadClusterBackend(),
  sns: () => import('@aws-sdk/client-sns'),
});
