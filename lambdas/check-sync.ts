import { checkSync } from '#app/steps.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('CheckSync', checkSync);
