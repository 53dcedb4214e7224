import type { Mode, Pair, Role, SegmentRow, Status } from '#domain/segment.ts';
import {
  durationMs,
  indexOf,
  isReplicating,
  log,
  pinWal,
  processOf,
  walBehind,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';

/** What FTS learns about one content when it probes the acting primary. */
export interface ProbedContent {
  primaryRunning: boolean;
  hasMirror: boolean;
  mirrorRunning: boolean;
  /** The mirror's status in the catalog. */
  mirrorStatus: Status | undefined;
  /** The catalog says the pair is synchronized: the only evidence FTS trusts to promote. */
  catalogInSync: boolean;
  /** The walsender streams with nothing left to send. */
  streaming: boolean;
  /** The mirror has been unreachable for the whole mirror-down grace period, this probe included. */
  mirrorGraceOver: boolean;
}

export type FtsAction =
  | 'promoteMirror'
  | 'holdMirrorUp'
  | 'markMirrorDown'
  | 'markMirrorUp'
  | 'markSynchronized'
  | 'nothing';

/**
 * FTS's decisions (GREENPLUM.md, "FTS, the fault prober", and the real 6.24.3 captures); the
 * first matching row applies.
 */
export const FTS_RULES: readonly {
  situation: string;
  matches: (c: ProbedContent) => boolean;
  action: FtsAction;
}[] = [
  // FTS writes the catalog first (old primary m,d,n; mirror p,u,n), then tells the mirror to promote.
  {
    situation: 'acting primary down, mirror up and in sync',
    matches: (c) => !c.primaryRunning && c.mirrorRunning && c.catalogInSync,
    action: 'promoteMirror',
  },
  // FTS takes the catalog's word and swaps the roles before it learns the mirror is gone; the
  // promotion then fails, and the dead mirror is shown as acting primary p,u,n (capture 80c).
  {
    situation: 'acting primary and mirror down together while the catalog says in sync',
    matches: (c) => !c.primaryRunning && c.hasMirror && c.catalogInSync,
    action: 'promoteMirror',
  },
  // A double fault: `FTS double fault detected` goes to the server log only; no row changes.
  {
    situation: 'acting primary down, mirror down or not in sync',
    matches: (c) => !c.primaryRunning && c.hasMirror,
    action: 'nothing',
  },
  // Nothing to fail over to: the content is unavailable until its primary runs again.
  {
    situation: 'acting primary down, no mirror',
    matches: (c) => !c.primaryRunning,
    action: 'nothing',
  },
  // The primary reports its mirror up until the grace period passes: the catalog keeps u and s
  // while gp_stat_replication has no walsender for the pair (captures 23, 26, 51b).
  {
    situation: 'mirror unreachable, within the mirror-down grace period',
    matches: (c) => c.hasMirror && !c.mirrorRunning && c.mirrorStatus === 'u' && !c.mirrorGraceOver,
    action: 'holdMirrorUp',
  },
  // Primary first (p,u,n), then the mirror (m,d,n), as in captures 30c and 51i.
  {
    situation: 'mirror unreachable for the whole grace period',
    matches: (c) => c.hasMirror && !c.mirrorRunning && c.mirrorStatus === 'u',
    action: 'markMirrorDown',
  },
  {
    situation: 'recovered mirror started',
    matches: (c) => c.mirrorRunning && c.mirrorStatus === 'd',
    action: 'markMirrorUp',
  },
  {
    situation: 'mirror caught up',
    matches: (c) => c.mirrorRunning && !c.catalogInSync && c.streaming,
    action: 'markSynchronized',
  },
  { situation: 'healthy or unchanged', matches: () => true, action: 'nothing' },
];

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

export const ftsAction = (content: ProbedContent): FtsAction =>
  (FTS_RULES.find((rule) => rule.matches(content)) ?? { action: 'nothing' as const }).action;

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

/** One FTS probe scan (`gp_request_fts_probe_scan()`), in place on `state`. Coordinator rows are never probed. */
export function probeInPlace(state: SimulatedClusterState, at: number): void {
  for (const pair of indexOf(state).pairs) {
    const { primary, mirror } = pair;
    // Without a mirror FTS has nothing to change: a dead primary only makes the content unavailable.
    if (!mirror) continue;
    const probed = probeContent(state, pair, at);
    EFFECTS[ftsAction(probed)]({ state, at, pair, primary, mirror, probed });
  }
}
