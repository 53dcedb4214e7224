import { fenceCoordinator } from '#app/failover.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';

// The only Task that stops an instance: the EC2 client is in its files alone, loaded at the stop.
export const handler = workflowTask('FenceCoordinator', fenceCoordinator, {
  cluster: await loadClusterBackend(),
  ec2: () => import('@aws-sdk/client-ec2'),
});
