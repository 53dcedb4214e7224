import { moveClients } from '#app/failover.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

// The only Task that changes a DNS record: the Route 53 client is in this bundle alone.
export const handler = workflowTask('MoveClients', moveClients, {
  route53: () => import('@aws-sdk/client-route-53'),
});
