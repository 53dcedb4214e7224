import { finishRecovery } from '#app/steps.ts';
import { workflowTask } from '#lambdas/common/workflow-task.ts';
import { metrics } from '#lambdas/common/metrics.ts';
import { publishIncidentMetrics } from '#lambdas/common/incident-metrics.ts';

export const handler = workflowTask(
  'FinishRecovery',
  async (deps, event) => {
    const finished = await finishRecovery(deps, event);
    // A dry run or a cluster with nothing down took no time to recover: no incident to chart.
    if (finished.outcome === 'recovered' && finished.timings)
      publishIncidentMetrics(metrics, event.input.clusterId, finished.timings);
    return finished;
  },
  {
    sns: () => import('@aws-sdk/client-sns'),
  },
);
