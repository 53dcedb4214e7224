import { startFailover } from '#app/failover.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('StartFailover', startFailover);
