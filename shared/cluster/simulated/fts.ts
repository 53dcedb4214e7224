import { FTS_RULES, type FtsAction, type ProbedContent } from '#domain/fts-rules.ts';
import { decide } from '#domain/rules.ts';
import type { Mode, Pair, Role, SegmentRow, Status } from '#domain/segment.ts';
import {
  coordinatorOf,
  durationMs,
  indexOf,
  isReplicating,
  log,
  pinWal,
  processOf,
  startPromotion,
  walBehind,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';

export function probeContent(state: SimulatedClusterState, pair: Pair, at: number): ProbedContent {
  const mirror = pair.mirror;
  const unreachableSince = mirror ? (state.unreachableMirrors[mirror.dbid] ?? at) : at;
  return {
    primaryRunning: processOf(state, pair.primary.dbid).running,
    hasMirror: mirror !== undefined,
    mirrorRunning: mirror !== undefined && processOf(state, mirror.dbid).running,
    mirrorStatus: mirror?.status,
    catalogInSync: pair.primary.mode === 's',
    streaming: isReplicating(state, pair) && walBehind(state, pair, at) === 0,
    mirrorGraceOver:
      at - unreachableSince >= durationMs(state, state.options.mirrorDownGracePeriodSeconds),
  };
}

/** Writes a row change as FTS does: catalog first, one gp_configuration_history line per dbid. */
function update(
  state: SimulatedClusterState,
  at: number,
  row: SegmentRow,
  change: { role?: Role; status?: Status; mode?: Mode },
): void {
  const next = { ...row, ...change };
  if (next.role === row.role && next.status === row.status && next.mode === row.mode) return;
  Object.assign(row, change);
  log(
    state,
    at,
    `FTS: update role, status, and mode for dbid ${row.dbid} with contentid ${row.content} to ${row.role}, ${row.status}, and ${row.mode}`,
  );
}

interface Probed {
  state: SimulatedClusterState;
  at: number;
  pair: Pair;
  primary: SegmentRow;
  mirror: SegmentRow;
  probed: ProbedContent;
}

/** What each action writes; history lines in the order the real captures show them. */
const EFFECTS: Record<FtsAction, (p: Probed) => void> = {
  promoteMirror: ({ state, at, pair, primary, mirror }) => {
    pinWal(state, pair, at);
    delete state.unreachableMirrors[mirror.dbid];
    update(state, at, primary, { role: 'm', status: 'd', mode: 'n' });
    update(state, at, mirror, { role: 'p', status: 'u', mode: 'n' });
    // Catalog first, then the promote message: the mirror takes a while to become a primary.
    startPromotion(state, mirror.dbid, at);
  },
  holdMirrorUp: ({ state, at, mirror }) => {
    state.unreachableMirrors[mirror.dbid] ??= at;
  },
  markMirrorDown: ({ state, at, primary, mirror }) => {
    delete state.unreachableMirrors[mirror.dbid];
    update(state, at, primary, { mode: 'n' });
    update(state, at, mirror, { status: 'd', mode: 'n' });
  },
  markMirrorUp: ({ state, at, primary, mirror, probed }) => {
    const mode: Mode = probed.streaming ? 's' : 'n';
    update(state, at, primary, { mode });
    update(state, at, mirror, { status: 'u', mode });
  },
  markSynchronized: ({ state, at, primary, mirror }) => {
    update(state, at, primary, { mode: 's' });
    update(state, at, mirror, { mode: 's' });
  },
  nothing: () => {},
};

/**
 * One FTS probe scan (`gp_request_fts_probe_scan()`), in place on `state`. Coordinator rows are
 * never probed, and FTS runs on the coordinator: while its postmaster is down, nothing is.
 */
export function probeInPlace(state: SimulatedClusterState, at: number): void {
  if (!processOf(state, coordinatorOf(state).dbid).running) return;
  for (const pair of indexOf(state).pairs) {
    const { primary, mirror } = pair;
    // Without a mirror FTS has nothing to change: a dead primary only makes the content unavailable.
    if (!mirror) continue;
    const probed = probeContent(state, pair, at);
    EFFECTS[decide(FTS_RULES, probed).then]({ state, at, pair, primary, mirror, probed });
  }
}
