import { finishFailover } from '#app/failover.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('FinishFailover', finishFailover, {
  sns: () => import('@aws-sdk/client-sns'),
});
