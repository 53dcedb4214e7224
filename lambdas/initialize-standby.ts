import { initializeStandby } from '#app/standby.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('InitializeStandby', initializeStandby, {
  cluster: await loadClusterBackend(),
});
