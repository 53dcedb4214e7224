import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crashSegment,
  failHost,
  loseDataDirectory,
  restoreHost,
} from '#cluster/simulated/faults.ts';
import {
  createState,
  indexOf,
  processOf,
  walBehind,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';
import { startRebalance, startRecovery } from '#cluster/simulated/operations.ts';
import { readConfiguration, readReplication } from '#cluster/simulated/reads.ts';
import { advance, probe } from '#cluster/simulated/timeline.ts';
import { DomainError } from '#domain/errors.ts';
import { configurationProblems } from '#domain/invariants.ts';
import type { RecoveryType } from '#domain/events.ts';
import { planFor } from './helpers.ts';
import { groupMirroredCluster } from './clusters.ts';

const DBIDS = groupMirroredCluster(3, 2)
  .filter((r) => r.content >= 0)
  .map((r) => r.dbid);

type Action =
  | { kind: 'failHost' | 'restoreHost'; pick: number }
  | { kind: 'crash' | 'loseDataDirectory'; role: 'p' | 'm'; pick: number }
  | { kind: 'probe' }
  | { kind: 'wait'; ms: number }
  | { kind: 'recover'; type: RecoveryType; relocate: boolean }
  | { kind: 'rebalance'; replayLagGb: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constantFrom('failHost' as const, 'restoreHost' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constantFrom('crash' as const, 'crash' as const, 'loseDataDirectory' as const),
    role: fc.constantFrom('p' as const, 'm' as const),
    pick: fc.nat(),
  }),
  fc.constant({ kind: 'probe' as const }),
  fc.constant({ kind: 'probe' as const }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 30_000 }) }),
  fc.record({
    kind: fc.constant('recover' as const),
    type: fc.constantFrom<RecoveryType>('incremental', 'differential', 'full'),
    relocate: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('rebalance' as const), replayLagGb: fc.constantFrom(1, 10) }),
);

const optionsArb = fc.record({
  seed: fc.integer(),
  walBytesBehind: fc.constantFrom(0, 1_048_576, 64 * 1_048_576),
  timeScale: fc.constantFrom(0, 1, 20),
  // 12 s outlasts the gang retries of gprecoverseg's first statement (10 s).
  promotionSeconds: fc.constantFrom(0, 5, 5, 12),
  hostRestartSeconds: fc.constantFrom(null, 0, 30),
  incrementalFailsFor: fc.subarray(DBIDS, { maxLength: 3 }),
});

/** Faults aim at what the cluster has now (its current acting primaries, mirrors, hosts). */
function pickOf<T>(items: readonly T[], pick: number): T {
  return items[pick % items.length] as T;
}

function apply(
  state: SimulatedClusterState,
  action: Action,
  at: number,
  step: number,
): SimulatedClusterState {
  const segments = state.catalog.filter((r) => r.content >= 0);
  const hosts = [
    ...new Set([...segments.map((r) => r.hostname), ...Object.keys(state.downHosts)]),
  ].sort();
  const dbidOf = (role: 'p' | 'm', pick: number) =>
    pickOf(
      segments.filter((r) => r.role === role),
      pick,
    ).dbid;
  switch (action.kind) {
    case 'failHost':
      return failHost(state, at, pickOf(hosts, action.pick));
    case 'restoreHost':
      return restoreHost(state, at, pickOf(hosts, action.pick));
    case 'crash':
      return crashSegment(state, at, dbidOf(action.role, action.pick));
    case 'loseDataDirectory':
      return loseDataDirectory(state, at, dbidOf(action.role, action.pick));
    case 'probe':
      return probe(state, at);
    case 'wait':
      return advance(state, at);
    case 'recover': {
      const spare = (row: { dbid: number; content: number }) => ({
        hostname: 'sdw9',
        address: 'sdw9',
        port: 30000 + row.dbid,
        datadir: `/data2/gpseg${row.content}-${row.dbid}`,
      });
      const plan = planFor(
        advance(state, at),
        action.relocate ? 'full' : action.type,
        action.relocate ? spare : undefined,
      );
      return startRecovery(state, at, plan, `recover-${step}`).state;
    }
    case 'rebalance':
      return startRebalance(state, at, { replayLagGb: action.replayLagGb }, `rebalance-${step}`)
        .state;
  }
}

/** After a probe, an acting primary that does not answer is left only where no mirror could take over. */
function everyDeadPrimaryFailedOverOrDoubleFaulted(state: SimulatedClusterState, at: number): void {
  const { unresponsive, doubleFaults } = readConfiguration(state, at);
  expect(
    unresponsive,
    'acting primaries still dead after a probe whose pairs the catalog shows in sync',
  ).toEqual(doubleFaults.map((f) => f.primaryDbid).sort((a, b) => a - b));
}

/**
 * A promotion under way (capture 103): the segment is alive, so neither unresponsive nor a
 * double fault; it has no walsender; and no copy reads from it.
 */
function promotingPrimariesAreAliveAndUnused(state: SimulatedClusterState, at: number): void {
  const { unresponsive, notReady, doubleFaults } = readConfiguration(state, at);
  const promoting = notReady.map((n) => n.dbid);
  if (promoting.length === 0) return;
  expect(
    promoting.filter((d) => unresponsive.includes(d)),
    'promoting and unresponsive',
  ).toEqual([]);
  expect(
    doubleFaults.filter((f) => promoting.includes(f.primaryDbid)),
    'a promoting primary counted as a double fault',
  ).toEqual([]);
  for (const r of readReplication(state, at))
    if (promoting.includes(r.primaryDbid))
      expect(r.state, `content ${r.content}: walsender of promoting dbid ${r.primaryDbid}`).toBe(
        undefined,
      );
  // `state` is already at `at`: every action returns the cluster as of its time.
  for (const op of state.operations)
    for (const item of op.items)
      if (item.outcome === 'copying')
        expect(
          promoting,
          `dbid ${item.dbid} copies from dbid ${item.sourceDbid} while it is being promoted`,
        ).not.toContain(item.sourceDbid);
}

/** Every content whose acting primary changed was promoted from a mirror that had all the WAL. */
function promotionsWereSafe(
  before: SimulatedClusterState,
  after: SimulatedClusterState,
  at: number,
): void {
  const afterPairs = indexOf(after).pairByContent;
  for (const pair of indexOf(before).pairs) {
    const now = afterPairs.get(pair.content);
    if (!now || now.primary.dbid === pair.primary.dbid) continue;
    expect(
      now.primary.dbid,
      `content ${pair.content}: promoted a dbid that was not its mirror`,
    ).toBe(pair.mirror?.dbid);
    expect(
      pair.primary.mode,
      `content ${pair.content}: promoted mirror dbid ${now.primary.dbid} out of sync`,
    ).toBe('s');
    // FTS takes the catalog's word: a mirror that died with its primary is "promoted" all the
    // same (capture 80c), and the content then shows as a double fault.
    if (!processOf(before, now.primary.dbid).running)
      expect(
        readConfiguration(after, at).doubleFaults.map((f) => f.content),
        `content ${pair.content}: dead mirror dbid ${now.primary.dbid} promoted, no double fault observed`,
      ).toContain(pair.content);
    expect(
      walBehind(before, pair, at),
      `content ${pair.content}: mirror lacked WAL when promoted`,
    ).toBe(0);
  }
}

describe('simulated cluster properties', () => {
  it('random faults, probes, recoveries and rebalances keep the catalog valid and never promote an unsynchronized mirror', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(actionArb, { maxLength: 40 }), (options, actions) => {
        let state = createState(groupMirroredCluster(3, 2), options, 0);
        let at = 0;
        actions.forEach((action, step) => {
          at += action.kind === 'wait' ? action.ms : 100;
          const before = advance(state, at);
          let after: SimulatedClusterState;
          try {
            after = apply(state, action, at, step);
          } catch (error) {
            // Refused requests (a plan FTS has not caught up with, the lock) change nothing.
            expect(error).toBeInstanceOf(DomainError);
            return;
          }
          expect(configurationProblems(after.catalog)).toEqual([]);
          promotionsWereSafe(before, after, at);
          promotingPrimariesAreAliveAndUnused(after, at);
          if (action.kind === 'probe') everyDeadPrimaryFailedOverOrDoubleFaulted(after, at);
          state = after;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('from any reachable state, restoring hosts and recovering in full brings every pair back in sync', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(actionArb, { maxLength: 25 }), (options, actions) => {
        let state = createState(
          groupMirroredCluster(3, 2),
          { ...options, incrementalFailsFor: [] },
          0,
        );
        let at = 0;
        actions.forEach((action, step) => {
          at += 100;
          try {
            state = apply(state, action, at, step);
          } catch {
            // refused: nothing changed
          }
        });
        for (const host of Object.keys(state.downHosts))
          state = restoreHost(state, (at += 1), host);
        // Two probes a day apart: the second comes after every mirror-down grace period.
        state = probe(advance(state, (at += 24 * 3600_000)), at);
        state = probe(state, (at += 24 * 3600_000));
        // gprecoverseg cannot repair a double fault
        if (readConfiguration(state, at).doubleFaults.length > 0) return;
        const run = startRecovery(state, at, planFor(state, 'full'), 'final');
        state = probe(advance(run.state, (at += 24 * 3600_000)), at);
        for (const pair of indexOf(state).pairs)
          expect(`${pair.content}:${pair.primary.mode}:${pair.mirror?.status}`).toBe(
            `${pair.content}:s:u`,
          );
      }),
      { numRuns: 200 },
    );
  });
});
