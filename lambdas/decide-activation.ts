import { decideActivation } from '#app/failover.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('DecideActivation', decideActivation, {
  cluster: await loadClusterBackend(),
  sns: () => import('@aws-sdk/client-sns'),
});
