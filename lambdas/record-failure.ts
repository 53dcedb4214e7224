import { recordFailure } from '#app/steps.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('RecordFailure', recordFailure, {
  sns: () => import('@aws-sdk/client-sns'),
});
