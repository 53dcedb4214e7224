import type { WorkflowTask } from '#infra/tasks.ts';
import { formatBytes, type Out } from '#local/output.ts';
import type { TaskObserver } from '#local/workflow-runner.ts';

/** Progress of gprecoverseg and of WAL catch-up, as the Check tasks report it. */
export function progressObserver(out: Out): TaskObserver {
  return {
    onTaskSucceeded(task: WorkflowTask, _payload, output) {
      const o = output as {
        next?: string;
        percent?: number;
        kind?: string;
        walRemainingBytes?: number;
        unsynchronized?: number[];
      };
      if (task === 'CheckRecovery') {
        const label = o.kind === 'rebalance' ? 'gprecoverseg -r' : 'gprecoverseg   ';
        out.progress(label, (o.percent ?? 0) / 100, o.next === 'wait' ? 'copying' : 'segments up');
        if (o.next !== 'wait') out.done();
      }
      if (task === 'CheckSync') {
        const waiting = o.unsynchronized?.length ?? 0;
        out.progress(
          'wait for sync  ',
          waiting === 0 ? 1 : 0.5,
          waiting === 0
            ? 'all pairs synchronized'
            : `contents ${o.unsynchronized!.join(', ')}: ${formatBytes(o.walRemainingBytes ?? 0)} WAL to go`,
        );
        if (o.next !== 'wait') out.done();
      }
    },
  };
}

export const combine = (...observers: TaskObserver[]): TaskObserver => ({
  async onTaskSucceeded(task, payload, output) {
    for (const o of observers) await o.onTaskSucceeded?.(task, payload, output);
  },
  async onTaskFailed(task, payload, error) {
    for (const o of observers) await o.onTaskFailed?.(task, payload, error);
  },
});
