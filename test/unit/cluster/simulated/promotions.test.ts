import { describe, expect, it } from 'vitest';
import { crashSegment } from '#cluster/simulated/faults.ts';
import { createState, pgIsReady, type SimulatedClusterState } from '#cluster/simulated/model.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { pollOperation, startRebalance, startRecovery } from '#cluster/simulated/operations.ts';
import { readConfiguration, readReplication } from '#cluster/simulated/reads.ts';
import { advance, probe, RECOVERED_MESSAGE } from '#cluster/simulated/timeline.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { expectValid, modesOf, planFor, pollUntilDone } from './helpers.ts';
import { SEED_TABLES, seedCluster } from './clusters.ts';

/*
 * Capture 103: FTS marks a mirror acting primary at once, but the mirror answers pg_isready
 * "mirror ready" (exit 64) for about 5 s more, until its promotion ends. Every failover and
 * every rebalance passes through that window.
 */

/** The seed cluster; FTS marks an unreachable mirror down at its first probe. */
const seed = (options: SimulationOptionsInput = {}): SimulatedClusterState =>
  createState(seedCluster(), { seed: 7, mirrorDownGracePeriodSeconds: 0, ...options }, 0);
const rowOf = (state: SimulatedClusterState, dbid: number) =>
  state.catalog.find((r) => r.dbid === dbid)!;
/** Content 2's primary dbid 4 killed at 1 s, FTS probing at once: its mirror dbid 8 is promoted. */
const failedOver = (options: SimulationOptionsInput = {}) =>
  probe(crashSegment(seed(options), 1_000, 4), 1_000);

describe('a mirror FTS promotes (capture 103)', () => {
  it('is acting primary in the catalog at once, answers "mirror ready" for promotionSeconds, then accepts connections', () => {
    const state = failedOver();
    expect(modesOf(readConfiguration(state, 1_000).segments)).toBe(
      '2:pus 6:mus 3:pus 7:mus 8:pun 4:mdn 5:pus 9:mus',
    );
    for (const at of [1_000, 3_000, 5_999])
      expect(readConfiguration(state, at)).toMatchObject({
        unresponsive: [],
        notReady: [{ dbid: 8, answer: 'mirror-ready' }],
        doubleFaults: [],
      });
    expect(pgIsReady(advance(state, 5_999), rowOf(state, 8))).toBe('mirror-ready');
    const after = advance(state, 6_000);
    expect(readConfiguration(state, 6_000)).toMatchObject({ unresponsive: [], notReady: [] });
    expect(pgIsReady(after, rowOf(after, 8))).toBe('accepting');
    expect(after.log.map((l) => l.message)).toContain(
      'dbid 8: promotion ended, database system is ready to accept connections',
    );
  });

  it('answers as pg_isready does: mirrors 64, live primaries 0, stopped segments no response', () => {
    const state = advance(failedOver(), 6_000);
    const answers = state.catalog
      .filter((r) => r.content >= 0)
      .map((r) => `${r.dbid}:${pgIsReady(state, r)}`);
    expect(answers).toEqual([
      '2:accepting',
      '6:mirror-ready',
      '3:accepting',
      '7:mirror-ready',
      '4:no-response',
      '8:accepting',
      '5:accepting',
      '9:mirror-ready',
    ]);
  });

  it('scales the promotion with timeScale, and has none in zero-time mode or with promotionSeconds 0', () => {
    const scaled = failedOver({ timeScale: 10 });
    expect(readConfiguration(scaled, 1_499).notReady).toEqual([
      { dbid: 8, answer: 'mirror-ready' },
    ]);
    expect(readConfiguration(scaled, 1_500).notReady).toEqual([]);
    expect(readConfiguration(failedOver({ timeScale: 0 }), 1_000).notReady).toEqual([]);
    expect(readConfiguration(failedOver({ promotionSeconds: 0 }), 1_000).notReady).toEqual([]);
    expect(readConfiguration(failedOver({ promotionSeconds: 0.5 }), 1_499).notReady).toHaveLength(
      1,
    );
  });

  it('refuses a negative promotionSeconds, naming the field', () => {
    expect(() => createState(seedCluster(), { promotionSeconds: -1 })).toThrow(
      expect.objectContaining({ name: 'ValidationError', path: 'simulation.promotionSeconds' }),
    );
  });

  it('has no walsender until its promotion ends', () => {
    // Its mirror is the dead old primary: recovered once the promotion ended, it then streams.
    let state = failedOver({ timeScale: 0 });
    const promoted = failedOver();
    expect(readReplication(promoted, 3_000).find((r) => r.content === 2)?.state).toBeUndefined();
    const run = startRecovery(state, 0, planFor(state), 'r');
    state = advance(run.state, 0);
    expect(readReplication(state, 0).find((r) => r.content === 2)?.state).toBe('streaming');
  });

  it('dies with its postmaster: no response, and the content is double faulted (capture 80c)', () => {
    const state = crashSegment(failedOver(), 2_000, 8);
    expect(readConfiguration(state, 2_000)).toMatchObject({
      unresponsive: [8],
      notReady: [],
      doubleFaults: [{ content: 2, primaryDbid: 8, mirrorDbid: 4 }],
    });
    expect(readConfiguration(state, 10_000).notReady).toEqual([]);
  });
});

describe('gprecoverseg while an acting primary is still being promoted', () => {
  it('waits at its first statement (the gang is retried every 2 s) and copies from the source only once its promotion has ended', () => {
    const state = failedOver();
    const run = startRecovery(state, 2_000, planFor(state), 'r');
    expect(planFor(state)).toEqual([{ dbid: 4, content: 2, sourceDbid: 8, type: 'incremental' }]);
    // Attempts at 2, 4 and 6 s; the promotion ends at 6 s.
    for (const at of [2_000, 5_999]) {
      expect(pollOperation(run.state, at, run.handle.operationId)).toMatchObject({
        done: false,
        progress: [],
        recovered: [],
        failures: [],
      });
      expect(advance(run.state, at).operations.at(-1)?.items).toEqual([]);
    }
    const copying = advance(run.state, 6_000).operations.at(-1)?.items;
    expect(copying).toEqual([
      expect.objectContaining({ dbid: 4, sourceDbid: 8, startedAt: 6_000, outcome: 'copying' }),
    ]);
    const done = pollUntilDone(run.state, run.handle, 6_000, 100);
    expect(done.status).toMatchObject({ recovered: [4], failures: [] });
    expect(done.status.messages).toEqual([RECOVERED_MESSAGE]);
    expectValid(advance(run.state, done.at));
  });

  it('waits for a promotion of another content too: the statement goes to every acting primary', () => {
    // Content 1's mirror dbid 7 is down; content 2 fails over at 1 s (dbid 8 promoted until 6 s).
    const state = probe(crashSegment(probe(crashSegment(seed(), 0, 7), 0), 1_000, 4), 1_000);
    const plan = planFor(state).filter((i) => i.dbid === 7);
    const run = startRecovery(state, 1_000, plan, 'r');
    // Attempts at 1, 3 and 5 s find dbid 8 in recovery; the one at 7 s runs.
    expect(advance(run.state, 6_999).operations.at(-1)?.items).toEqual([]);
    expect(advance(run.state, 7_000).operations.at(-1)?.items).toEqual([
      expect.objectContaining({ dbid: 7, sourceDbid: 3, startedAt: 7_000 }),
    ]);
  });

  it('fails with exit 2, changing nothing, when the promotion outlasts the gang retries (10 s)', () => {
    const state = failedOver({ promotionSeconds: 12 });
    const run = startRecovery(state, 1_000, planFor(state), 'r');
    expect(pollOperation(run.state, 10_999, run.handle.operationId).done).toBe(false);
    expect(() => pollOperation(run.state, 11_000, run.handle.operationId)).toThrow(
      expect.objectContaining({
        name: 'GprecoversegFailed',
        message: expect.stringContaining(
          "gprecoverseg failed. (Reason='error 'ERROR:  failed to acquire resources on one or more segments\nDETAIL:  segments is in recovery mode\n' in 'SET CLIENT_MIN_MESSAGES='ERROR''') exiting...",
        ),
      }),
    );
    const after = advance(run.state, 11_000);
    expect(after.catalog).toEqual(advance(state, 11_000).catalog);
    expect(after.processes).toEqual(state.processes);
    expect(after.operations.at(-1)).toMatchObject({ items: [], finishedAt: 11_000 });
  });

  it('fails at once, changing nothing, when an acting primary dies while it waits (connection refused, capture 82)', () => {
    let state = probe(crashSegment(failedOver(), 1_000, 7), 1_000);
    const run = startRecovery(state, 1_000, planFor(state), 'r');
    expect(planFor(state).map((i) => [i.dbid, i.sourceDbid])).toEqual([
      [7, 3],
      [4, 8],
    ]);
    state = crashSegment(run.state, 1_500, 3);
    expect(pollOperation(state, 2_999, run.handle.operationId).done).toBe(false);
    const dead = rowOf(state, 3);
    expect(() => pollOperation(state, 3_000, run.handle.operationId)).toThrow(
      expect.objectContaining({
        name: 'GprecoversegFailed',
        message: expect.stringContaining(`(seg1 ${dead.address}:${dead.port})`),
      }),
    );
    expect(advance(state, 3_000).operations.at(-1)?.items).toEqual([]);
  });
});

describe('gprecoverseg -r passes through the same window (captures 40, 87)', () => {
  /** Contents 2 and 3 act on segment-1, every pair back in sync; real time from here. */
  const switched = () => {
    let state = probe(crashSegment(crashSegment(seed({ timeScale: 0 }), 0, 4), 0, 5), 0);
    state = advance(startRecovery(state, 0, planFor(state), 'r').state, 0);
    state = probe(state, 0);
    expect(renderConfigurationTable(readConfiguration(state, 0).segments)).toBe(
      SEED_TABLES.synchronized,
    );
    return { ...state, options: { ...state.options, timeScale: 1 } };
  };

  it('makes each preferred primary acting again answer "mirror ready", without a walsender, and copies only after their promotions ended', () => {
    const state = switched();
    const run = startRebalance(state, 10_000, { replayLagGb: 10 }, 'b');
    const during = readConfiguration(run.state, 10_000);
    expect(modesOf(during.segments)).toBe('2:pus 6:mus 3:pus 7:mus 4:pun 8:mdn 5:pun 9:mdn');
    expect(during).toMatchObject({
      unresponsive: [],
      notReady: [
        { dbid: 4, answer: 'mirror-ready' },
        { dbid: 5, answer: 'mirror-ready' },
      ],
      doubleFaults: [],
    });
    expect(readReplication(run.state, 14_999).map((r) => `${r.content}:${r.state ?? '-'}`)).toEqual(
      ['0:streaming', '1:streaming', '2:-', '3:-'],
    );
    expect(pollOperation(run.state, 14_999, run.handle.operationId)).toMatchObject({
      done: false,
      progress: [],
    });
    // Promotions end at 15 s; SegmentReconfigurer's statement, tried every 2 s, runs at 16 s.
    expect(readConfiguration(run.state, 15_000).notReady).toEqual([]);
    expect(advance(run.state, 15_999).operations.at(-1)?.items).toEqual([]);
    expect(advance(run.state, 16_000).operations.at(-1)?.items).toEqual([
      expect.objectContaining({ dbid: 8, sourceDbid: 4, startedAt: 16_000 }),
      expect.objectContaining({ dbid: 9, sourceDbid: 5, startedAt: 16_000 }),
    ]);
    const done = pollUntilDone(run.state, run.handle, 16_000, 100);
    expect(done.status).toMatchObject({ recovered: [8, 9], failures: [] });
    const later = probe(run.state, done.at + 5_000);
    expect(renderConfigurationTable(readConfiguration(later, later.now).segments)).toBe(
      SEED_TABLES.rebalanced,
    );
  });

  it("waits at its own first statement while a failover's promotion is under way, then rebalances", () => {
    // Content 0 fails over at 10 s: its mirror dbid 6 is being promoted until 15 s.
    const state = probe(crashSegment(switched(), 10_000, 2), 10_000);
    const run = startRebalance(state, 10_000, { replayLagGb: 10 }, 'b');
    // Nothing stopped yet: attempts at 10, 12, 14 s fail, the one at 16 s runs.
    expect(advance(run.state, 15_999).operations.at(-1)).toMatchObject({
      waiting: { for: 'gang', attempts: 3 },
      items: [],
    });
    expect(modesOf(readConfiguration(run.state, 15_999).segments)).toBe(
      '6:pun 2:mdn 3:pus 7:mus 8:pus 4:mus 9:pus 5:mus',
    );
    const rebalancing = readConfiguration(run.state, 16_000);
    expect(modesOf(rebalancing.segments)).toBe('6:pun 2:mdn 3:pus 7:mus 4:pun 8:mdn 5:pun 9:mdn');
    expect(rebalancing.notReady.map((n) => n.dbid)).toEqual([4, 5]);
    const { status } = pollUntilDone(run.state, run.handle, 16_000, 100);
    expect(status.skipped).toEqual([
      {
        content: 0,
        reason:
          'Not rebalancing primary segment dbid 6 with its mirror dbid 2 because one is either down, unreachable, or not synchronized',
      },
    ]);
    // The nested gprecoverseg -a (at 22 s) recovers content 0's old primary too.
    expect(status).toMatchObject({ recovered: [2, 8, 9], failures: [] });
    expect(advance(run.state, 22_000).operations.at(-1)?.items[0]?.startedAt).toBe(22_000);
  });
});
