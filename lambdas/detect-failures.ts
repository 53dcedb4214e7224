import { detectFailures } from '#app/steps.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('DetectFailures', detectFailures, {
  cluster: clusterBackendFromEnv,
});
