import type { LocalRuntime } from '#local/runtime.ts';
import { supersedeDeadHolder } from '#app/control.ts';

/**
 * `serve` starting on a data directory: a recovery left open by a `serve` that died (kill -9,
 * a crash, a reboot) has no run any more, since this process's runner starts empty. Each is
 * closed on record (RecoveryFailed ... abandoned) and its lock released, so `status` tells
 * the truth and the next `recover` runs. Returns one line per cluster closed.
 */
export async function closeAbandonedRecoveries(runtime: LocalRuntime): Promise<string[]> {
  const lines: string[] = [];
  for (const clusterId of await runtime.stores.events.clusterIds()) {
    const { superseded } = await supersedeDeadHolder(runtime.api, clusterId, {
      by: 'recoverseg serve, restarted on its data directory',
    });
    if (superseded)
      lines.push(
        `cluster ${clusterId}: incident ${superseded} was left open by a serve that stopped; closed as abandoned (recoverseg history --cluster ${clusterId}); start a recovery again if segments are still down`,
      );
  }
  return lines;
}
