import { describe, expect, it } from 'vitest';
import {
  GprecoversegLocked,
  RebalanceReplayLagExceeded,
  UnknownHost,
  UnknownOperation,
  UnknownSegment,
} from '#cluster/simulated/errors.ts';
import {
  crashSegment,
  failHost,
  failHosts,
  loseDataDirectory,
  restoreHost,
} from '#cluster/simulated/faults.ts';
import { createState, type SimulatedClusterState } from '#cluster/simulated/model.ts';
import { pollOperation, startRebalance, startRecovery } from '#cluster/simulated/operations.ts';
import { readConfiguration, readReplication } from '#cluster/simulated/reads.ts';
import {
  advance,
  INCREMENTAL_FAILURES_MESSAGE,
  probe,
  REBALANCED_MESSAGE,
  RECOVERED_MESSAGE,
} from '#cluster/simulated/timeline.ts';
import { InvalidTopology, ValidationError } from '#domain/errors.ts';
import type { PlanItem } from '#domain/events.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { expectValid, modesOf, planFor, pollUntilDone } from './helpers.ts';
import { groupMirroredCluster, SEED_TABLES, seedCluster } from './clusters.ts';

/** FTS marks an unreachable mirror down at its first probe here; the grace period has its own tests. */
const seed = (options: SimulationOptionsInput = {}): SimulatedClusterState =>
  createState(seedCluster(), { seed: 7, mirrorDownGracePeriodSeconds: 0, ...options }, 0);
/** The seed cluster with FTS's defaults: a 30 s mirror-down grace period, one clock second per second. */
const realTime = (options: SimulationOptionsInput = {}): SimulatedClusterState =>
  createState(seedCluster(), { seed: 7, ...options }, 0);
const rows = (state: SimulatedClusterState, at = state.now) =>
  readConfiguration(state, at).segments;
const row = (state: SimulatedClusterState, dbid: number) =>
  rows(state).find((r) => r.dbid === dbid);
const history = (state: SimulatedClusterState) =>
  state.log.map((l) => l.message).filter((m) => m.startsWith('FTS: '));
const walsenders = (state: SimulatedClusterState, at: number) =>
  readReplication(state, at).map((r) => `${r.content}:${r.state ?? '-'}`);

describe('FTS and the mirror-down grace period', () => {
  it('fails the primaries of a dead host over at once but keeps its mirrors up for 30 s (captures 21, 23, 26, 30b, 30c)', () => {
    let state = failHost(realTime(), 1_000, 'segment-2');
    // Capture 21: before any probe the catalog still shows everything up and in sync.
    expect(modesOf(rows(state, 1_000))).toBe('2:pus 6:mus 3:pus 7:mus 4:pus 8:mus 5:pus 9:mus');

    state = probe(state, 2_000);
    expectValid(state);
    // Capture 23: contents 2 and 3 failed over; the dead mirrors 6 and 7 are still u, their pairs s.
    expect(modesOf(rows(state))).toBe('2:pus 6:mus 3:pus 7:mus 8:pun 4:mdn 9:pun 5:mdn');
    // Capture 26: no pair has a walsender, whatever the catalog says.
    expect(walsenders(state, 2_000)).toEqual(['0:-', '1:-', '2:-', '3:-']);
    expect(readConfiguration(state, 2_000)).toMatchObject({ unresponsive: [], doubleFaults: [] });

    // Still inside the grace period, counted from the probe that first found them unreachable.
    state = probe(state, 31_999);
    expect(modesOf(rows(state))).toBe('2:pus 6:mus 3:pus 7:mus 8:pun 4:mdn 9:pun 5:mdn');

    // Captures 30b, 30c: the probe after the grace period marks them down, primary line first.
    state = probe(state, 32_000);
    expectValid(state);
    expect(renderConfigurationTable(rows(state))).toBe(SEED_TABLES.promoted);
    expect(history(state).slice(-4)).toEqual([
      'FTS: update role, status, and mode for dbid 2 with contentid 0 to p, u, and n',
      'FTS: update role, status, and mode for dbid 6 with contentid 0 to m, d, and n',
      'FTS: update role, status, and mode for dbid 3 with contentid 1 to p, u, and n',
      'FTS: update role, status, and mode for dbid 7 with contentid 1 to m, d, and n',
    ]);
  });

  it('keeps a killed mirror up, with no walsender, for the grace period (captures 51a, 51b, 51d, 51e, 51h)', () => {
    let state = probe(crashSegment(realTime(), 100, 6), 200);
    expect(modesOf(rows(state))).toBe('2:pus 6:mus 3:pus 7:mus 4:pus 8:mus 5:pus 9:mus');
    expect(walsenders(state, 200)).toEqual(['0:-', '1:streaming', '2:streaming', '3:streaming']);
    // Nothing to recover yet: gprecoverseg would say "No segments to recover".
    expect(planFor(state)).toEqual([]);
    state = probe(state, 30_200);
    expect(modesOf(rows(state))).toBe('2:pun 6:mdn 3:pus 7:mus 4:pus 8:mus 5:pus 9:mus');
    expect(planFor(state).map((i) => i.dbid)).toEqual([6]);
  });

  it('scales the grace period with timeScale, and has none in zero-time mode', () => {
    const scaled = probe(crashSegment(realTime({ timeScale: 10 }), 100, 6), 200);
    expect(row(probe(scaled, 3_199), 6)?.status).toBe('u');
    expect(row(probe(scaled, 3_200), 6)?.status).toBe('d');
    expect(row(probe(crashSegment(realTime({ timeScale: 0 }), 0, 6), 0), 6)?.status).toBe('d');
  });

  it("promotes a dead mirror on the catalog's word when primary and mirror die together (captures 80c, 80i, 81a)", () => {
    let state = crashSegment(crashSegment(realTime(), 100, 5), 100, 9);
    // Before the probe the pair still shows in sync: its dead primary is not yet a double fault.
    expect(readConfiguration(state, 100)).toMatchObject({ unresponsive: [5], doubleFaults: [] });
    state = probe(state, 5_000);
    expectValid(state);
    expect(modesOf(rows(state))).toBe('2:pus 6:mus 3:pus 7:mus 4:pus 8:mus 9:pun 5:mdn');
    expect(history(state)).toEqual([
      'FTS: update role, status, and mode for dbid 5 with contentid 3 to m, d, and n',
      'FTS: update role, status, and mode for dbid 9 with contentid 3 to p, u, and n',
    ]);
    expect(readConfiguration(state, 5_000)).toMatchObject({
      unresponsive: [9],
      doubleFaults: [{ content: 3, primaryDbid: 9, mirrorDbid: 5 }],
    });
    // Capture 81a: after the grace period FTS changes nothing more.
    const later = probe(state, 60_000);
    expect(rows(later)).toEqual(rows(state));
    expect(history(later)).toHaveLength(2);
  });

  it('changes nothing when the primary dies after its mirror was marked down: a double fault only observation shows', () => {
    let state = probe(crashSegment(seed(), 100, 7), 150);
    const before = rows(state);
    state = probe(crashSegment(state, 200, 3), 300);
    expect(rows(state)).toEqual(before);
    expect(modesOf(rows(state)).split(' ').slice(2, 4)).toEqual(['3:pun', '7:mdn']);
    expect(readConfiguration(state, 300).doubleFaults).toEqual([
      { content: 1, primaryDbid: 3, mirrorDbid: 7 },
    ]);
    // The server log's "FTS double fault detected" is nowhere a tool can read.
    expect(state.log.some((l) => /double fault/i.test(l.message))).toBe(false);
  });
});

describe('gprecoverseg during a double fault (captures 82, 83-88)', () => {
  const doubleFault = () => probe(crashSegment(crashSegment(seed(), 100, 5), 100, 9), 200);

  it('exits 2 [CRITICAL] naming the dead acting primary, and changes nothing', () => {
    let state = probe(crashSegment(doubleFault(), 300, 6), 400);
    const before = structuredClone(state.processes);
    const run = startRecovery(state, 500, planFor(state), 'k');
    const reason = run.state.operations.at(-1)?.messages[0] ?? '';
    expect(reason).toMatch(
      /^gprecoverseg failed\. \(Reason='error 'ERROR: {2}failed to acquire resources on one or more segments\n/,
    );
    expect(reason).toContain('TCP/IP connections on port 10501?\n (seg3 segment-1:10501)');
    // As the real adapter reads it: an error naming the segment, not a list of failures.
    expect(() => pollOperation(run.state, 500, run.handle.operationId)).toThrow(
      expect.objectContaining({
        name: 'GprecoversegFailed',
        message: expect.stringContaining('(seg3 segment-1:10501)'),
      }),
    );
    state = advance(run.state, 500);
    expect(state.processes).toEqual(before);
    expect(modesOf(rows(state))).toBe('2:pun 6:mdn 3:pus 7:mus 4:pus 8:mus 9:pun 5:mdn');
  });
});

describe('a rack: hosts powered off in one step', () => {
  const cluster = () =>
    createState(groupMirroredCluster(4, 2), { seed: 7, mirrorDownGracePeriodSeconds: 0 }, 0);

  it('leaves the cluster as the hosts powered off one after the other in the same instant', () => {
    const rack = failHosts(cluster(), 1_000, ['sdw1', 'sdw3']);
    const oneByOne = failHost(failHost(cluster(), 1_000, 'sdw1'), 1_000, 'sdw3');
    expect(rack.processes).toEqual(oneByOne.processes);
    expect(rack.downHosts).toEqual(oneByOne.downHosts);
    expect(Object.values(rack.processes).filter((p) => !p.running)).toHaveLength(8);
    expect(rows(probe(rack, 1_000))).toEqual(rows(probe(oneByOne, 1_000)));
  });

  it('refuses the whole step when one host is unknown', () => {
    expect(() => failHosts(cluster(), 0, ['sdw1', 'sdw9'])).toThrow(new UnknownHost('sdw9'));
  });
});

describe('faults on objects that do not exist', () => {
  it('names the host or dbid', () => {
    expect(() => failHost(seed(), 0, 'segment-9')).toThrow(new UnknownHost('segment-9'));
    expect(() => failHost(seed(), 0, 'segment-9')).toThrow(/host segment-9/);
    expect(() => crashSegment(seed(), 0, 42)).toThrow(UnknownSegment);
    expect(() => loseDataDirectory(seed(), 0, 42)).toThrow(/dbid 42/);
    expect(() => restoreHost(seed(), 0, 'nowhere')).toThrow(UnknownHost);
  });

  it('refuses an invalid topology', () => {
    const broken = seedCluster().map((r) => (r.dbid === 6 ? { ...r, status: 'd' as const } : r));
    expect(() => createState(broken)).toThrow(InvalidTopology);
  });

  it('refuses malformed rows and options with the path of the bad field', () => {
    const badRow = seedCluster().map((r) => (r.dbid === 6 ? { ...r, datadir: 'relative/dir' } : r));
    expect(() => createState(badRow)).toThrow(
      expect.objectContaining({ name: 'ValidationError', path: 'segments.3.datadir' }),
    );
    expect(() => createState(seedCluster(), { syncBytesPerSecond: 0 })).toThrow(
      expect.objectContaining({ name: 'ValidationError', path: 'simulation.syncBytesPerSecond' }),
    );
    expect(() => createState(seedCluster(), { walBytes: 1 } as never)).toThrow(ValidationError);
    expect(() => createState(seedCluster(), { mirrorDownGracePeriodSeconds: -1 })).toThrow(
      expect.objectContaining({
        name: 'ValidationError',
        path: 'simulation.mirrorDownGracePeriodSeconds',
      }),
    );
  });
});

describe('gprecoverseg', () => {
  it('fails an incremental recovery whose WAL was recycled, brings the others up, and a full one then works', () => {
    let state = probe(failHost(seed({ incrementalFailsFor: [4] }), 0, 'segment-2'), 1_000);
    const first = startRecovery(state, 2_000, planFor(state, 'incremental'), 'incremental');
    const done = pollUntilDone(first.state, first.handle, 2_000);
    expect(done.status.recovered).toEqual([6, 7, 5]);
    expect(done.status.failures).toEqual([
      {
        dbid: 4,
        type: 'incremental',
        reason: 'pg_rewind: fatal: could not find previous WAL record',
        needsFull: true,
      },
    ]);
    expect(done.status.messages).toEqual([INCREMENTAL_FAILURES_MESSAGE]);
    state = advance(first.state, done.at);
    expectValid(state);
    expect(row(state, 4)).toMatchObject({ status: 'd', mode: 'n' });
    expect(row(state, 5)).toMatchObject({ status: 'u', mode: 'n' });

    const full = startRecovery(state, done.at, planFor(state, 'full'), 'full');
    expect(full.state.operations.at(-1)?.items.map((i) => [i.dbid, i.type])).toEqual([[4, 'full']]);
    const fullDone = pollUntilDone(full.state, full.handle, done.at, 1_000);
    expect(fullDone.status).toMatchObject({ recovered: [4], failures: [] });
    state = probe(full.state, fullDone.at + 5_000);
    expect(modesOf(rows(state))).toBe('2:pus 6:mus 3:pus 7:mus 8:pus 4:mus 9:pus 5:mus');
  });

  it('needs a full recovery after the data directory is lost', () => {
    let state = probe(loseDataDirectory(seed(), 0, 6), 100);
    for (const type of ['incremental', 'differential'] as const) {
      const run = startRecovery(state, 200, planFor(state, type), type);
      const done = pollUntilDone(run.state, run.handle, 200);
      expect(done.status.failures).toEqual([
        expect.objectContaining({ dbid: 6, type, needsFull: true }),
      ]);
      state = advance(run.state, done.at);
    }
    expect(pollOperation(state, state.now, 'recovery-1').failures[0]?.reason).toMatch(
      /pg_rewind: fatal: could not open file "\/data1\/mirror\/gpseg0\/global\/pg_control"/,
    );
    const full = startRecovery(state, state.now, planFor(state, 'full'), 'full');
    const done = pollUntilDone(full.state, full.handle, state.now, 1_000);
    expect(done.status.recovered).toEqual([6]);
    expect(done.status.progress).toEqual([
      expect.objectContaining({ dbid: 6, type: 'full', percent: 100 }),
    ]);
  });

  it('relocates to a new host with a full recovery, as gprecoverseg -p does', () => {
    let state = probe(failHost(seed({ hostRestartSeconds: null }), 0, 'segment-2'), 1_000);
    // In place, the host is unreachable: those segments are skipped.
    const inPlace = startRecovery(state, 2_000, planFor(state), 'in-place');
    const skipped = pollUntilDone(inPlace.state, inPlace.handle, 2_000);
    expect(skipped.status.failures.map((f) => f.reason)).toEqual(
      Array(4).fill('Host segment-2 is unreachable'),
    );
    state = advance(inPlace.state, skipped.at);

    const toSegment3 = (r: { port: number; datadir: string }) => ({
      hostname: 'segment-3',
      address: 'segment-3',
      port: r.port,
      datadir: r.datadir,
    });
    expect(() =>
      startRecovery(state, state.now, planFor(state, 'incremental', toSegment3), 'x'),
    ).toThrow(/always full/);
    const moved = startRecovery(state, state.now, planFor(state, 'full', toSegment3), 'relocate');
    expect(row(moved.state, 4)).toMatchObject({ hostname: 'segment-3', status: 'd' });
    const done = pollUntilDone(moved.state, moved.handle, state.now, 1_000);
    expect(done.status).toMatchObject({ recovered: [6, 7, 4, 5], failures: [] });
    state = probe(moved.state, done.at + 5_000);
    expectValid(state);
    expect(
      rows(state)
        .filter((r) => r.hostname === 'segment-3')
        .map((r) => `${r.dbid}:${r.role}${r.status}${r.mode}:${r.port}:${r.datadir}`),
    ).toEqual([
      '6:mus:10500:/data1/mirror/gpseg0',
      '7:mus:10501:/data1/mirror/gpseg1',
      '4:mus:10000:/data1/primary/gpseg2',
      '5:mus:10001:/data1/primary/gpseg3',
    ]);
    expect(rows(state).some((r) => r.hostname === 'segment-2')).toBe(false);
  });

  it('backs out the catalog of a full relocation that failed', () => {
    // Started once FTS's promotions (at the probe, 5 s) have ended.
    const state = probe(failHost(seed({ hostRestartSeconds: null }), 0, 'segment-2'), 1_000);
    const target = {
      hostname: 'segment-3',
      address: 'segment-3',
      port: 12000,
      datadir: '/data9/gpseg0',
    };
    const run = startRecovery(
      state,
      6_000,
      [{ dbid: 6, content: 0, sourceDbid: 2, type: 'full', target }],
      'k',
    );
    // gprecoverseg updates the catalog before it copies.
    expect(row(run.state, 6)).toMatchObject({ hostname: 'segment-3', port: 12000, status: 'd' });
    const interrupted = failHost(run.state, 7_000, 'segment-3');
    const status = pollOperation(interrupted, 7_000, run.handle.operationId);
    expect(status.failures).toEqual([
      expect.objectContaining({ dbid: 6, type: 'full', reason: 'Host segment-3 is unreachable' }),
    ]);
    expectValid(interrupted);
    expect(row(interrupted, 6)).toMatchObject({
      hostname: 'segment-2',
      port: 10500,
      datadir: '/data1/mirror/gpseg0',
      status: 'd',
    });
  });

  it('fails a copy whose source stops during the run', () => {
    let state = probe(crashSegment(seed(), 0, 6), 100);
    const run = startRecovery(state, 200, planFor(state, 'full'), 'k');
    state = crashSegment(run.state, 500, 2);
    const status = pollOperation(state, 500, run.handle.operationId);
    expect(status.done).toBe(true);
    expect(status.failures[0]?.reason).toMatch(
      /could not connect to source dbid 2 on segment-1:10000/,
    );
    expect(status.progress[0]?.completedKb).toBeGreaterThan(0);
    expectValid(state);
  });

  it('runs one at a time, and a retried start with the same key returns the same run', () => {
    const state = probe(failHost(seed(), 0, 'segment-2'), 100);
    const first = startRecovery(state, 200, planFor(state), 'incident-1/recover');
    const retried = startRecovery(first.state, 300, planFor(state), 'incident-1/recover');
    expect(retried.handle).toEqual(first.handle);
    expect(retried.state).toBe(first.state);
    expect(() => startRecovery(first.state, 300, planFor(state), 'incident-2/recover')).toThrow(
      GprecoversegLocked,
    );
    expect(() => startRebalance(first.state, 300, { replayLagGb: 10 }, 'rebalance')).toThrow(
      /recovery-1 holds gprecoverseg.lock/,
    );
    expect(() => pollOperation(first.state, 300, 'recovery-9')).toThrow(UnknownOperation);
  });
});

describe('refused input changes nothing', () => {
  const failed = () => probe(failHost(seed(), 0, 'segment-2'), 100);
  const item = (over: Partial<PlanItem>): PlanItem => ({
    dbid: 6,
    content: 0,
    sourceDbid: 2,
    type: 'incremental',
    ...over,
  });
  const cases: [
    string,
    () => SimulatedClusterState,
    PlanItem[],
    RegExp | (new (...args: never[]) => Error),
  ][] = [
    [
      'a target host name a shell would interpret',
      failed,
      [item({ type: 'full', target: { hostname: 'x;rm', address: 'x', port: 1, datadir: '/d' } })],
      /plan item 0 target.hostname/,
    ],
    ['an unknown dbid', failed, [item({ dbid: 99 })], UnknownSegment],
    ['an unknown source', failed, [item({ sourceDbid: 98 })], UnknownSegment],
    ['a content twice', failed, [item({}), item({ type: 'full' })], /content 0 appears twice/],
    ['a wrong content', failed, [item({ content: 1 })], /belongs to content 0, not content 1/],
    [
      'a source that is not the acting primary',
      failed,
      [item({ dbid: 4, content: 2, sourceDbid: 9 })],
      /source dbid 9 is not the acting primary of content 2 \(dbid 8 is\)/,
    ],
    ['a segment not marked down', seed, [item({})], /dbid 6 \(content 0\) is not marked down/],
    [
      'an incremental relocation',
      failed,
      [item({ target: { hostname: 'segment-3', address: 'segment-3', port: 1, datadir: '/d' } })],
      /always full/,
    ],
    [
      'a target on a used port',
      failed,
      [
        item({
          type: 'full',
          target: { hostname: 'segment-1', address: 'segment-1', port: 10000, datadir: '/other' },
        }),
      ],
      /dbid 2 and dbid 6 would all use port 10000 on segment-1/,
    ],
    [
      'a target on a used data directory',
      failed,
      [
        item({
          type: 'full',
          target: {
            hostname: 'segment-1',
            address: 'segment-1',
            port: 15000,
            datadir: '/data1/primary/gpseg0',
          },
        }),
      ],
      /data directory \/data1\/primary\/gpseg0 on segment-1/,
    ],
    [
      'two targets colliding',
      failed,
      [
        item({
          type: 'full',
          target: { hostname: 'segment-3', address: 'segment-3', port: 1, datadir: '/a' },
        }),
        item({
          dbid: 7,
          content: 1,
          sourceDbid: 3,
          type: 'full',
          target: { hostname: 'segment-3', address: 'segment-3', port: 1, datadir: '/b' },
        }),
      ],
      /dbid 6 and dbid 7 would all use port 1 on segment-3/,
    ],
  ];
  it.each(cases)('refuses %s', (_name, make, plan, error) => {
    const state = make();
    const copy = structuredClone(state);
    expect(() => startRecovery(state, 200, plan, 'k')).toThrow(error);
    expect(state).toEqual(copy);
  });
});

describe('rebalance', () => {
  /** Contents 2 and 3 act on segment-1 after the seed incident, every pair back in sync. */
  const switched = (options: SimulationOptionsInput = {}) => {
    const state = probe(failHost(seed({ timeScale: 0, ...options }), 0, 'segment-2'), 0);
    return startRecovery(state, 0, planFor(state), 'r').state;
  };

  it('stops the non-preferred acting primaries, lets FTS promote the preferred, and recovers every down segment (captures 40, 41, 45)', () => {
    // A mirror of a balanced pair is down too: the nested gprecoverseg -a recovers it as well.
    let state = probe(crashSegment(switched(), 10, 6), 10);
    expect(modesOf(rows(state))).toBe('2:pun 6:mdn 3:pus 7:mus 8:pus 4:mus 9:pus 5:mus');
    const run = startRebalance(state, 20, { replayLagGb: 10 }, 'b');
    expect(run.state.operations.at(-1)?.items.map((i) => [i.dbid, i.sourceDbid, i.type])).toEqual([
      [6, 2, 'incremental'],
      [8, 4, 'incremental'],
      [9, 5, 'incremental'],
    ]);
    const status = pollOperation(run.state, 20, run.handle.operationId);
    expect(status).toMatchObject({ done: true, recovered: [6, 8, 9], failures: [], skipped: [] });
    expect(status.messages).toEqual([RECOVERED_MESSAGE, REBALANCED_MESSAGE]);
    state = advance(run.state, 20);
    expect(renderConfigurationTable(rows(state))).toBe(SEED_TABLES.rebalanced);
    // Capture 45: FTS wrote the promotions (stopped primary first), then the resync.
    expect(history(state).join('\n')).toContain(
      [
        'FTS: update role, status, and mode for dbid 8 with contentid 2 to m, d, and n',
        'FTS: update role, status, and mode for dbid 4 with contentid 2 to p, u, and n',
        'FTS: update role, status, and mode for dbid 9 with contentid 3 to m, d, and n',
        'FTS: update role, status, and mode for dbid 5 with contentid 3 to p, u, and n',
      ].join('\n'),
    );
  });

  it('refuses the whole rebalance, stopping nothing, when one mirror replays at or over the limit (gprecoverseg 7.x; adapter-runs-2919f23.jsonl)', () => {
    const state = switched({ replayLag: [{ content: 3, bytes: 10 * 1024 ** 3 }] });
    const run = startRebalance(state, 10, { replayLagGb: 10 }, 'b');
    expect(run.state.processes).toEqual(state.processes);
    expect(rows(run.state)).toEqual(rows(state));
    expect(run.state.operations.at(-1)?.messages).toEqual([
      "gprecoverseg failed. (Reason='10737418240 bytes of wal is still to be replayed on mirror with dbid 9, let mirror catchup on replay then trigger rebalance. Use --replay-lag to configure the allowed replay lag limit or --disable-replay-lag to disable the check completely if you wish to continue with rebalance anyway') exiting...",
    ]);
    expect(() => pollOperation(run.state, 10, run.handle.operationId)).toThrow(
      new RebalanceReplayLagExceeded(9, 10 * 1024 ** 3),
    );
    // Under the limit it goes ahead.
    const allowed = startRebalance(state, 10, { replayLagGb: 11 }, 'b2');
    expect(renderConfigurationTable(rows(allowed.state))).toBe(SEED_TABLES.rebalanced);
  });

  it('skips pairs that are down, unreachable or not synchronized in the catalog, naming them', () => {
    let state = probe(failHost(seed({ hostRestartSeconds: null }), 0, 'segment-2'), 100);
    const recovered = startRecovery(
      restoreHost(state, 150, 'segment-2'),
      200,
      planFor(state).filter((i) => i.dbid !== 4),
      'r',
    );
    state = probe(
      recovered.state,
      pollUntilDone(recovered.state, recovered.handle, 200).at + 10_000,
    );
    const run = startRebalance(state, state.now, { replayLagGb: 10 }, 'b');
    const { status } = pollUntilDone(run.state, run.handle, state.now);
    expect(status.skipped).toEqual([
      {
        content: 2,
        reason:
          'Not rebalancing primary segment dbid 8 with its mirror dbid 4 because one is either down, unreachable, or not synchronized',
      },
    ]);
    // Content 3 was rebalanced, and the nested recovery brought dbid 4 back as well.
    expect(status).toMatchObject({ done: true, recovered: [4, 9], failures: [] });
  });

  it('trusts the catalog: a mirror dead within its grace period is "promoted", the content is lost, and gprecoverseg -r gives up after 30 s (captures 51b, 80c; SegmentReconfigurer)', () => {
    // Content 3 acts in switched roles and in sync, with FTS's real grace period.
    const swapped = seedCluster().map((r) =>
      r.content === 3 ? { ...r, role: r.role === 'p' ? ('m' as const) : ('p' as const) } : r,
    );
    let state = createState(swapped, { seed: 7 }, 0);
    state = probe(crashSegment(state, 100, 5), 200);
    expect(modesOf(rows(state)).split(' ').slice(6)).toEqual(['9:pus', '5:mus']);
    const run = startRebalance(state, 300, { replayLagGb: 10 }, 'b');
    expect(readConfiguration(run.state, 300)).toMatchObject({
      notReady: [],
      doubleFaults: [{ content: 3, primaryDbid: 5, mirrorDbid: 9 }],
    });
    // It tries a distributed statement every 2 s for its MIRROR_PROMOTION_TIMEOUT, 30 s.
    expect(pollOperation(run.state, 30_299, run.handle.operationId)).toMatchObject({
      done: false,
      progress: [],
    });
    expect(() => pollOperation(run.state, 30_300, run.handle.operationId)).toThrow(
      expect.objectContaining({
        name: 'GprecoversegFailed',
        message: expect.stringContaining(
          "gprecoverseg failed. (Reason='Mirror promotion did not complete in 30 seconds.') exiting...",
        ),
      }),
    );
    // The primary it stopped stays down: nothing was recovered.
    expect(
      modesOf(rows(advance(run.state, 30_300)))
        .split(' ')
        .slice(6),
    ).toEqual(['5:pun', '9:mdn']);
  });
});

describe('determinism', () => {
  const run = (seedValue: number) => {
    let state = createState(seedCluster(), { seed: seedValue, incrementalFailsFor: [5] }, 0);
    state = probe(failHost(state, 10, 'segment-2'), 20);
    state = startRecovery(state, 6_000, planFor(state), 'a').state;
    state = advance(state, 6_700);
    state = crashSegment(state, 6_800, 9);
    return probe(state, 60_000);
  };

  it('gives the same state for the same seed, calls and times', () => {
    expect(run(3)).toEqual(run(3));
  });

  it('draws different copy sizes from another seed', () => {
    const sizes = (s: SimulatedClusterState) => s.operations[0]?.items.map((i) => i.totalKb);
    expect(sizes(run(3))).not.toEqual(sizes(run(4)));
  });
});
