import type { DoubleFault } from '#cluster/port.ts';
import type { Mode, Pair, Role, SegmentRow, Status } from '#domain/segment.ts';
import {
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
}

export type FtsAction =
  | 'promoteMirror'
  | 'doubleFault'
  | 'contentUnavailable'
  | 'markMirrorDown'
  | 'markMirrorUp'
  | 'markSynchronized'
  | 'nothing';

/** FTS's decisions (GREENPLUM.md, "FTS, the fault prober"); the first matching rule applies. */
export const FTS_RULES: readonly {
  situation: string;
  matches: (c: ProbedContent) => boolean;
  action: FtsAction;
}[] = [
  {
    situation: 'acting primary down, mirror up and in sync',
    matches: (c) => !c.primaryRunning && c.mirrorRunning && c.catalogInSync,
    action: 'promoteMirror',
  },
  {
    situation: 'acting primary down, mirror down or not in sync',
    matches: (c) => !c.primaryRunning && c.hasMirror,
    action: 'doubleFault',
  },
  {
    situation: 'acting primary down, no mirror',
    matches: (c) => !c.primaryRunning,
    action: 'contentUnavailable',
  },
  {
    situation: 'mirror stopped',
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
  return {
    primaryRunning: processOf(state, pair.primary.dbid).running,
    hasMirror: mirror !== undefined,
    mirrorRunning: mirror !== undefined && processOf(state, mirror.dbid).running,
    mirrorStatus: mirror?.status,
    catalogInSync: pair.primary.mode === 's',
    streaming: isReplicating(state, pair) && walBehind(state, pair, at) === 0,
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

/**
 * One FTS probe scan (`gp_request_fts_probe_scan()`), in place on `state`. Coordinator rows are
 * never probed. A double fault changes no row: it is only reported.
 */
export function probeInPlace(state: SimulatedClusterState, at: number): void {
  const { pairs } = indexOf(state);
  const doubleFaults: DoubleFault[] = [];
  for (const pair of pairs) {
    const probed = probeContent(state, pair, at);
    const action = ftsAction(probed);
    const { primary, mirror } = pair;
    // Without a mirror FTS has nothing to change: a dead primary only makes the content unavailable.
    if (!mirror) continue;
    switch (action) {
      case 'promoteMirror':
        pinWal(state, pair, at);
        update(state, at, primary, { role: 'm', status: 'd', mode: 'n' });
        update(state, at, mirror, { role: 'p', status: 'u', mode: 'n' });
        break;
      case 'doubleFault': {
        const fault = { content: pair.content, primaryDbid: primary.dbid, mirrorDbid: mirror.dbid };
        doubleFaults.push(fault);
        if (!state.doubleFaults.some((f) => f.content === fault.content))
          log(
            state,
            at,
            `FTS double fault detected (content=${fault.content}) primary dbid=${fault.primaryDbid}, mirror dbid=${fault.mirrorDbid}`,
          );
        break;
      }
      case 'markMirrorDown':
        update(state, at, mirror, { status: 'd', mode: 'n' });
        update(state, at, primary, { mode: 'n' });
        break;
      case 'markMirrorUp': {
        const mode: Mode = probed.streaming ? 's' : 'n';
        update(state, at, mirror, { status: 'u', mode });
        update(state, at, primary, { mode });
        break;
      }
      case 'markSynchronized':
        update(state, at, primary, { mode: 's' });
        update(state, at, mirror, { mode: 's' });
        break;
      case 'contentUnavailable':
      case 'nothing':
        break;
    }
  }
  state.doubleFaults = doubleFaults;
}
