import { checkRecovery } from '#app/steps.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('CheckRecovery', checkRecovery, {
  cluster: await loadClusterBackend(),
});
