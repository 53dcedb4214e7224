import { finishRecovery } from '#workflow/steps.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('FinishRecovery', finishRecovery);
