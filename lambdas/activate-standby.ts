import { activateStandby } from '#app/failover.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('ActivateStandby', activateStandby, {
  cluster: await loadClusterBackend(),
});
