import { detectFailures } from '#workflow/steps.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

export const handler = workflowTask('DetectFailures', detectFailures);
