import { pairsOf, type Pair, type SegmentRow } from '#domain/segment.ts';

/**
 * A content with no live copy: its acting primary does not answer and its mirror is down or was
 * not in sync. No Greenplum version writes this down anywhere a tool can read: FTS logs it to
 * the coordinator's server log and, when primary and mirror die together while the catalog
 * says in sync, even "promotes" the dead mirror (real capture 80c: content 3's acting primary
 * dbid 9 shown `p,u,n` on a dead process). So it is found by observation, never by text.
 */
export interface DoubleFault {
  content: number;
  /** The acting primary that does not answer. */
  primaryDbid: number;
  /** Its mirror, down or not in sync. */
  mirrorDbid: number;
}

/**
 * How a live acting primary that does not accept connections yet answers pg_isready:
 * `mirror-ready` (exit 64, libpq's PQPING_MIRROR_READY) while it is still a mirror, which a
 * mirror FTS has just marked `p` stays for about 5 s until its promotion ends (capture 103);
 * `rejecting` (exit 1) while it starts up, is in recovery or shuts down.
 */
export type NotReadyAnswer = 'mirror-ready' | 'rejecting';

/** An acting primary that is alive but not ready as a primary yet. */
export interface NotReady {
  dbid: number;
  answer: NotReadyAnswer;
}

/**
 * The double faults an observation shows: `unresponsive` lists the acting primaries that did
 * not answer a connection from the coordinator (pg_isready "no response") after an FTS probe.
 * An unresponsive primary of a pair still in sync is not one: FTS fails it over to its mirror.
 * A content without a mirror that does not answer is unavailable, not a double fault.
 */
export function observedDoubleFaults(
  segments: readonly SegmentRow[],
  unresponsive: readonly number[],
): DoubleFault[] {
  const dead = new Set(unresponsive);
  return pairsOf(segments)
    .filter(
      (pair): pair is Pair & { mirror: SegmentRow } =>
        pair.mirror !== undefined && dead.has(pair.primary.dbid) && !inSync(pair),
    )
    .map((pair) => ({
      content: pair.content,
      primaryDbid: pair.primary.dbid,
      mirrorDbid: pair.mirror.dbid,
    }));
}

const inSync = (pair: Pair): boolean =>
  pair.primary.mode === 's' && pair.mirror?.mode === 's' && pair.mirror.status === 'u';
