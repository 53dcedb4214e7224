import type { ClusterObservation, ReplicationState } from '#cluster/port.ts';
import { assertCoordinatorAnswers } from '#cluster/simulated/coordinator-answers.ts';
import {
  indexOf,
  isReplicating,
  promotingPrimaries,
  unresponsivePrimaries,
  walBehind,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';
import { advance } from '#cluster/simulated/timeline.ts';
import { observedDoubleFaults } from '#domain/observation.ts';
import { sortRows } from '#domain/segment.ts';

/**
 * gp_segment_configuration at clock time `now`, in the seed's row order, and how its acting
 * primaries answer pg_isready: those that do not answer (the catalog alone never shows a double
 * fault, capture 80c), and those still answering "mirror ready" because their promotion has not
 * ended (capture 103): alive, so never a double fault.
 */
export function readConfiguration(state: SimulatedClusterState, now: number): ClusterObservation {
  const current = advance(state, now);
  assertCoordinatorAnswers(current);
  const segments = sortRows(current.catalog);
  const unresponsive = unresponsivePrimaries(current);
  return {
    segments,
    unresponsive,
    notReady: promotingPrimaries(current).map((dbid) => ({ dbid, answer: 'mirror-ready' })),
    doubleFaults: observedDoubleFaults(segments, unresponsive),
  };
}

/**
 * gp_stat_replication per content with a mirror. Without a walsender (either side stopped,
 * even while the catalog still shows the pair in sync: captures 26, 51h; or the acting primary
 * still finishing its promotion) nothing is known, as
 * gpstate's `Unknown`. PostgreSQL counts a standby as `sync` only once it
 * streams; while it catches up it is a `potential` one.
 */
export function readReplication(state: SimulatedClusterState, now: number): ReplicationState[] {
  const current = advance(state, now);
  assertCoordinatorAnswers(current);
  return indexOf(current).pairs.flatMap((pair): ReplicationState[] => {
    if (!pair.mirror) return [];
    if (!isReplicating(current, pair))
      return [
        {
          content: pair.content,
          primaryDbid: pair.primary.dbid,
          state: undefined,
          syncState: undefined,
          syncError: undefined,
          walRemainingBytes: undefined,
          replayLagBytes: undefined,
        },
      ];
    const remaining = walBehind(current, pair, current.now);
    return [
      {
        content: pair.content,
        primaryDbid: pair.primary.dbid,
        state: remaining > 0 ? 'catchup' : 'streaming',
        syncState: remaining > 0 ? 'potential' : 'sync',
        syncError: 'none',
        walRemainingBytes: remaining,
        replayLagBytes:
          current.options.replayLag.find((l) => l.content === pair.content)?.bytes ?? 0,
      },
    ];
  });
}
