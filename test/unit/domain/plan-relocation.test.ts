import { describe, expect, it } from 'vitest';
import { planRecovery, RecoveryNotPossible } from '#domain/decisions.ts';
import { fold } from '#domain/evolve.ts';
import type { RecoveryOptions } from '#domain/events.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';

/**
 * Host sdw1 of 4 (16 contents, dbids up to 33) is lost: its primaries (dbid 2-5) were demoted,
 * their mirrors on sdw2 (dbid 18-21) act as primaries, and its mirrors (dbid 30-33) are down.
 */
function sdw1Lost(): SegmentRow[] {
  return groupMirroredCluster(4, 4).map((row): SegmentRow => {
    if (row.content < 0) return row;
    const onSdw1 = row.hostname === 'sdw1';
    const partnerOnSdw1 = !onSdw1 && (row.content < 4 || row.content >= 12);
    if (onSdw1 && row.role === 'p') return { ...row, role: 'm', status: 'd', mode: 'n' };
    if (onSdw1) return { ...row, status: 'd', mode: 'n' };
    if (partnerOnSdw1) return { ...row, role: 'p', mode: 'n' };
    return row;
  });
}

const options = (targetHosts: Record<string, string>): RecoveryOptions => ({
  type: 'auto',
  targetHosts,
  rebalance: true,
  replayLagGb: 10,
  dryRun: false,
});

describe('planRecovery onto a new host (gprecoverseg -p)', () => {
  it('moves every failed segment of the lost host', () => {
    const state = fold(registrationEvents(sdw1Lost()));
    const items = planRecovery(state, options({ sdw1: 'sdw9' }));
    expect(items.map((i) => [i.dbid, i.target?.hostname])).toEqual(
      [2, 3, 4, 5, 30, 31, 32, 33].map((dbid) => [dbid, 'sdw9']),
    );
  });

  it('refuses the moves that would clash with a segment on the target host, naming them', () => {
    const state = fold(registrationEvents(sdw1Lost()));
    expect(() => planRecovery(state, options({ sdw1: 'sdw2' }))).toThrow(
      /dbid 2 and dbid 6 both use port 10000 on sdw2|dbid 6 and dbid 2 both use port 10000 on sdw2/,
    );
  });

  it('does not blame a move for a clash it has no part in (dbid 20 is not dbid 2)', () => {
    const state = fold(registrationEvents(sdw1Lost()));
    // A clash between two rows no move touches, as a hand-edited catalog may hold one.
    const rows = new Map(state.segments);
    rows.set(21, { ...rows.get(21)!, port: rows.get(20)!.port });
    const items = planRecovery({ ...state, segments: rows }, options({ sdw1: 'sdw9' }));
    expect(items.map((i) => i.dbid)).toEqual([2, 3, 4, 5, 30, 31, 32, 33]);
  });

  it('still refuses a move into that clash', () => {
    const state = fold(registrationEvents(sdw1Lost()));
    const rows = new Map(state.segments);
    rows.set(21, { ...rows.get(21)!, port: rows.get(20)!.port });
    expect(() => planRecovery({ ...state, segments: rows }, options({ sdw1: 'sdw2' }))).toThrow(
      RecoveryNotPossible,
    );
  });
});
