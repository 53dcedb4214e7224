import { recoverSegments } from '#app/steps.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('RecoverSegments', recoverSegments, {
  cluster: await loadClusterBackend(),
});
