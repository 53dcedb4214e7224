import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { WORKFLOW_TASKS, WORKFLOW_TASK_NAMES } from '#infra/tasks.ts';
import { lambdaEnvironment } from './support.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const source = (entry: string) => readFileSync(`${ROOT}${entry}`, 'utf8');

describe('each Task has the parts the table grants it, and no other', () => {
  // The stack grants SSM Run Command and the topic by the table; the entry passes the parts.
  // A mismatch would pass every local test and fail only in AWS (AccessDenied, or a silent notice).
  it.each(WORKFLOW_TASK_NAMES)('%s', (task) => {
    const { entry, drivesCluster, notifies } = WORKFLOW_TASKS[task];
    const text = source(entry);
    expect(text.includes('cluster: await loadClusterBackend()'), 'passes the cluster backend').toBe(
      drivesCluster,
    );
    expect(text.includes("sns: () => import('@aws-sdk/client-sns')"), 'passes SNS').toBe(notifies);
  });

  it('refuses a cluster or a notice to a Task the table gives none, naming it', async () => {
    lambdaEnvironment();
    vi.resetModules();
    const { workflowDeps } = await import('#lambdas/common/workflow-task.ts');
    const deps = workflowDeps('PlanRecovery');
    expect(() => deps.cluster('seed')).toThrow(
      expect.objectContaining({
        name: 'TaskPartMissing',
        message: expect.stringMatching(/^PlanRecovery has no cluster: infra\/tasks\.ts/),
      }),
    );
    await expect(
      deps.notifier.notify({ clusterId: 'seed', incidentId: 'i', status: 'succeeded' }),
    ).rejects.toThrow(/^PlanRecovery has no SNS topic/);
  });

  it('shares one cluster backend among the Tasks of one process (serve runs them all)', async () => {
    lambdaEnvironment();
    vi.resetModules();
    const { workflowDeps } = await import('#lambdas/common/workflow-task.ts');
    const { loadClusterBackend } = await import('#cluster/backend.ts');
    const build = vi.fn(await loadClusterBackend());
    const detect = workflowDeps('DetectFailures', { cluster: build });
    const check = workflowDeps('CheckSync', { cluster: build });
    expect(build).toHaveBeenCalledTimes(1);
    expect(check.cluster).toBe(detect.cluster);
    expect(workflowDeps('DetectFailures')).toBe(detect);
  });
});
