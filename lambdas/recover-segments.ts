import { recoverSegments } from '#app/steps.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('RecoverSegments', recoverSegments, {
  cluster: clusterBackendFromEnv,
});
