import { rebalanceSegments } from '#app/steps.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('RebalanceSegments', rebalanceSegments, {
  cluster: await loadClusterBackend(),
});
