import { always, type Table } from '#domain/rules.ts';
import type { Status } from '#domain/segment.ts';

/*
 * Greenplum's fault prober as a table in the workflow's own dialect (rules.ts): what FTS does
 * to a content's rows after probing it. The simulated cluster plays it; the rule book prints it
 * beside the decisions recoverseg makes on what FTS wrote.
 */

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
export const FTS_RULES: Table<ProbedContent, FtsAction> = [
  // FTS writes the catalog first (old primary m,d,n; mirror p,u,n), then tells the mirror to promote.
  {
    rule: 'acting primary down, mirror up and in sync',
    when: (c) => !c.primaryRunning && c.mirrorRunning && c.catalogInSync,
    then: 'promoteMirror',
  },
  // FTS takes the catalog's word and swaps the roles before it learns the mirror is gone; the
  // promotion then fails, and the dead mirror is shown as acting primary p,u,n (capture 80c).
  {
    rule: 'acting primary and mirror down together while the catalog says in sync',
    when: (c) => !c.primaryRunning && c.hasMirror && c.catalogInSync,
    then: 'promoteMirror',
  },
  // A double fault: `FTS double fault detected` goes to the server log only; no row changes.
  {
    rule: 'acting primary down, mirror down or not in sync',
    when: (c) => !c.primaryRunning && c.hasMirror,
    then: 'nothing',
  },
  // Nothing to fail over to: the content is unavailable until its primary runs again.
  {
    rule: 'acting primary down, no mirror',
    when: (c) => !c.primaryRunning,
    then: 'nothing',
  },
  // The primary reports its mirror up until the grace period passes: the catalog keeps u and s
  // while gp_stat_replication has no walsender for the pair (captures 23, 26, 51b).
  {
    rule: 'mirror unreachable, within the mirror-down grace period',
    when: (c) => c.hasMirror && !c.mirrorRunning && c.mirrorStatus === 'u' && !c.mirrorGraceOver,
    then: 'holdMirrorUp',
  },
  // Primary first (p,u,n), then the mirror (m,d,n), as in captures 30c and 51i.
  {
    rule: 'mirror unreachable for the whole grace period',
    when: (c) => c.hasMirror && !c.mirrorRunning && c.mirrorStatus === 'u',
    then: 'markMirrorDown',
  },
  {
    rule: 'recovered mirror started',
    when: (c) => c.mirrorRunning && c.mirrorStatus === 'd',
    then: 'markMirrorUp',
  },
  {
    rule: 'mirror caught up',
    when: (c) => c.mirrorRunning && !c.catalogInSync && c.streaming,
    then: 'markSynchronized',
  },
  { rule: 'healthy or unchanged', when: always, then: 'nothing' },
];
