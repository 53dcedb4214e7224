import { unresponsivePrimaries, type SimulatedClusterState } from '#cluster/simulated/model.ts';
import { probe } from '#cluster/simulated/timeline.ts';
import type { Phase, RecoveryOptions, RecoveryType } from '#domain/events.ts';
import { observedDoubleFaults } from '#domain/observation.ts';
import { isInPreferredRoles, pairsOf } from '#domain/segment.ts';

export type Prediction =
  | { status: 'succeeded'; outcome: 'recovered' | 'planned' | 'nothing-to-do'; why: string }
  | { status: 'failed'; phase: Phase; error: string; why: string }
  | { status: 'unknown'; why: string };

const GB = 1024 ** 3;

/**
 * What a whole recovery run must end in, from the cluster's physical state (processes, data
 * directories, hosts) and the options alone, following GREENPLUM.md and DESIGN.md rather than
 * the workflow's code: FTS promotes only in-sync mirrors, otherwise the content is double
 * faulted and the run stops; incremental recovery needs intact WAL, differential a data
 * directory, full neither; in-place recovery needs the host; `auto` escalates needs-full
 * failures to full once; a forced type is never escalated; relocation is always full;
 * rebalance needs every mirror under the replay-lag limit and demoted primaries whose
 * `pg_rewind` works.
 */
export function predictRun(
  sim: SimulatedClusterState,
  options: RecoveryOptions,
  failedHosts: readonly string[],
): Prediction {
  // Detect: one FTS probe at the start of the run.
  const probed = probe(sim, sim.now);
  const doubleFaults = observedDoubleFaults(probed.catalog, unresponsivePrimaries(probed));
  if (doubleFaults.length > 0)
    return {
      status: 'failed',
      phase: 'promote',
      error: 'DoubleFault',
      why: `double fault of content ${doubleFaults.map((f) => f.content).join(', ')}`,
    };
  const pairs = pairsOf(probed.catalog);
  const stuck = pairs.filter((p) => failedHosts.includes(p.primary.hostname));
  if (stuck.length > 0)
    return {
      status: 'failed',
      phase: 'promote',
      error: 'PromotionPending',
      why: `primaries still acting on failed hosts: dbid ${stuck.map((p) => p.primary.dbid).join(', ')}`,
    };

  const failed = pairs
    .filter((p) => p.mirror?.status === 'd')
    .map((p) => ({ pair: p, row: p.mirror! }));
  const forced = options.type !== 'auto';
  const relocating = Object.keys(options.targetHosts);
  if (forced && options.type !== 'full' && relocating.length > 0)
    return {
      status: 'failed',
      phase: 'plan',
      error: 'RecoveryNotPossible',
      why: `${options.type} recovery cannot relocate`,
    };
  if (relocating.some((h) => !probed.catalog.some((r) => r.hostname === h)))
    return {
      status: 'failed',
      phase: 'plan',
      error: 'RecoveryNotPossible',
      why: 'a target host key is not in the configuration',
    };
  if (options.dryRun)
    return {
      status: 'succeeded',
      outcome: 'planned',
      why: `dry run of ${failed.length} segment(s)`,
    };

  // Recover: the copy of each failed segment, and the escalation to full.
  const reasons: string[] = [];
  for (const { row } of failed) {
    const relocated = row.hostname in options.targetHosts;
    const hostDown = !relocated && row.hostname in probed.downHosts;
    const process = probed.processes[row.dbid]!;
    const attempt = (type: RecoveryType): 'ok' | 'needs-full' | 'fails' => {
      if (hostDown) return 'fails';
      if (type === 'full') return 'ok';
      if (type === 'incremental' && (process.dataLost || process.rewindBroken)) return 'needs-full';
      if (type === 'differential' && process.dataLost) return 'needs-full';
      return 'ok';
    };
    const first = attempt(
      forced ? (options.type as RecoveryType) : relocated ? 'full' : 'incremental',
    );
    if (first === 'fails') reasons.push(`dbid ${row.dbid}: host ${row.hostname} is down`);
    else if (first === 'needs-full' && forced)
      reasons.push(`dbid ${row.dbid}: forced ${options.type} cannot work`);
  }
  if (reasons.length > 0)
    return {
      status: 'failed',
      phase: 'recover',
      error: 'IncrementalRecoveryFailed',
      why: reasons.join('; '),
    };

  // Rebalance: the pairs that will act in switched roles once every mirror is back.
  if (options.rebalance) {
    const switched = pairs.filter((p) => p.mirror && !isInPreferredRoles(p));
    if (switched.length > 0) {
      const lagging = probed.options.replayLag.filter((l) => l.bytes >= options.replayLagGb * GB);
      if (lagging.length > 0)
        return {
          status: 'failed',
          phase: 'sync',
          error: 'SyncTimeout',
          why: `replay lag of content ${lagging.map((l) => l.content).join(', ')} blocks gprecoverseg -r`,
        };
      const broken = switched.filter((p) => probed.processes[p.primary.dbid]!.rewindBroken);
      if (broken.length > 0)
        return {
          status: 'failed',
          phase: 'rebalance',
          error: 'RebalanceFailed',
          why: `pg_rewind cannot rewind demoted dbid ${broken.map((p) => p.primary.dbid).join(', ')}`,
        };
    }
    if (failed.length === 0 && switched.length > 0)
      return { status: 'succeeded', outcome: 'recovered', why: 'rebalance only' };
  }
  return failed.length === 0
    ? { status: 'succeeded', outcome: 'nothing-to-do', why: 'every segment is up' }
    : { status: 'succeeded', outcome: 'recovered', why: `${failed.length} segment(s) to recover` };
}
