import { describe, expect, it } from 'vitest';
import { failHost } from '#cluster/simulated/faults.ts';
import { createState } from '#cluster/simulated/model.ts';
import {
  NOTHING_TO_REBALANCE,
  startRebalance,
  startRecovery,
} from '#cluster/simulated/operations.ts';
import { readConfiguration, readReplication } from '#cluster/simulated/reads.ts';
import {
  advance,
  probe,
  RECOVERED_MESSAGE,
  REBALANCED_MESSAGE,
} from '#cluster/simulated/timeline.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { expectValid, planFor, pollUntilDone } from './helpers.ts';
import { SEED_TABLES, seedCluster } from './clusters.ts';

const table = (state: Parameters<typeof readConfiguration>[0], at: number): string =>
  renderConfigurationTable(readConfiguration(state, at).segments);

describe('the seed incident (segment-2 powered off), in simulated real time', () => {
  it('reproduces the three tables of the seed exactly', () => {
    let state = createState(seedCluster(), { seed: 1 }, 0);
    expect(table(state, 0)).toBe(SEED_TABLES.rebalanced);

    state = failHost(state, 1_000, 'segment-2');
    expectValid(state);
    // The catalog only changes when FTS probes.
    expect(table(state, 1_000)).toBe(SEED_TABLES.rebalanced);

    // The first probe fails contents 2 and 3 over; segment-2's mirrors stay up for FTS's
    // 30 s grace period (real captures 23, 26), so table 1 appears only after it.
    state = probe(state, 2_000);
    expectValid(state);
    expect(state.log.map((l) => l.message)).toContain(
      'FTS: update role, status, and mode for dbid 4 with contentid 2 to m, d, and n',
    );
    expect(readConfiguration(state, 2_000).segments.find((r) => r.dbid === 6)).toMatchObject({
      status: 'u',
      mode: 's',
    });
    // The promoted mirrors answer "mirror ready" until their promotions end 5 s later (capture 103).
    expect(readConfiguration(state, 6_999).notReady.map((n) => n.dbid)).toEqual([8, 9]);
    expect(readConfiguration(state, 7_000).notReady).toEqual([]);
    state = probe(state, 32_000);
    expectValid(state);
    expect(table(state, 32_000)).toBe(SEED_TABLES.promoted);
    expect(readConfiguration(state, 32_000).doubleFaults).toEqual([]);

    const plan = planFor(state, 'incremental');
    expect(plan.map((i) => [i.dbid, i.sourceDbid])).toEqual([
      [6, 2],
      [7, 3],
      [4, 8],
      [5, 9],
    ]);
    const started = startRecovery(state, 33_000, plan, 'incident-1/recover');
    state = started.state;
    expectValid(state);
    const running = pollUntilDone(state, started.handle, 33_000, 10);
    expect(running.status).toMatchObject({ done: true, recovered: [6, 7, 4, 5], failures: [] });
    expect(running.status.messages).toEqual([RECOVERED_MESSAGE]);

    // gprecoverseg probes at its end: the mirrors are up, the pairs not yet in sync.
    state = advance(state, running.at);
    const recovered = readConfiguration(state, running.at).segments.filter((r) => r.content >= 0);
    expect(recovered.every((r) => r.status === 'u' && r.mode === 'n')).toBe(true);
    expect(readReplication(state, running.at).map((r) => r.state)).toEqual(
      Array(4).fill('catchup'),
    );
    expect(readReplication(state, running.at)[0]?.walRemainingBytes).toBeGreaterThan(0);

    // 1 MiB behind at 1 MiB/s: caught up a second later; FTS then marks the pairs in sync.
    const caughtUp = running.at + 1_000;
    expect(readReplication(state, caughtUp).map((r) => r.walRemainingBytes)).toEqual([0, 0, 0, 0]);
    state = probe(state, caughtUp);
    expect(table(state, caughtUp)).toBe(SEED_TABLES.synchronized);

    const rebalance = startRebalance(
      state,
      caughtUp + 1_000,
      { replayLagGb: 10 },
      'incident-1/rebalance',
    );
    state = rebalance.state;
    expectValid(state);
    const switching = readConfiguration(state, caughtUp + 1_000).segments;
    expect(switching.find((r) => r.dbid === 4)).toMatchObject({
      role: 'p',
      status: 'u',
      mode: 'n',
    });
    expect(switching.find((r) => r.dbid === 8)).toMatchObject({
      role: 'm',
      status: 'd',
      mode: 'n',
    });
    // So do the preferred primaries FTS made acting again; gprecoverseg -r waits for them.
    expect(readConfiguration(state, caughtUp + 1_000).notReady).toEqual([
      { dbid: 4, answer: 'mirror-ready' },
      { dbid: 5, answer: 'mirror-ready' },
    ]);
    const rebalanced = pollUntilDone(state, rebalance.handle, caughtUp + 1_000, 10);
    expect(rebalanced.status).toMatchObject({
      kind: 'rebalance',
      recovered: [8, 9],
      failures: [],
      skipped: [],
    });
    // The nested gprecoverseg -a prints its line, then the rebalance its own (capture 40).
    expect(rebalanced.status.messages).toEqual([RECOVERED_MESSAGE, REBALANCED_MESSAGE]);
    expect(
      rebalanced.status.progress.every((p) => p.type === 'incremental' && p.percent === 100),
    ).toBe(true);

    state = probe(state, rebalanced.at + 1_000);
    expectValid(state);
    expect(table(state, rebalanced.at + 1_000)).toBe(SEED_TABLES.rebalanced);

    const again = startRebalance(
      state,
      rebalanced.at + 2_000,
      { replayLagGb: 10 },
      'incident-1/rebalance-2',
    );
    expect(again.state.operations.at(-1)?.messages).toEqual([NOTHING_TO_REBALANCE]);
  });

  it('in zero-time mode, each operation completes the moment it starts', () => {
    let state = createState(seedCluster(), { seed: 1, timeScale: 0 }, 0);
    state = probe(failHost(state, 0, 'segment-2'), 0);
    expect(table(state, 0)).toBe(SEED_TABLES.promoted);
    const recovery = startRecovery(state, 0, planFor(state), 'r');
    state = recovery.state;
    expect(state.operations[0]?.finishedAt).toBe(0);
    expect(table(state, 0)).toBe(SEED_TABLES.synchronized);
    state = startRebalance(state, 0, { replayLagGb: 10 }, 'b').state;
    expect(table(state, 0)).toBe(SEED_TABLES.rebalanced);
  });
});
