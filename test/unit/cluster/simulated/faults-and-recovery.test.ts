import { describe, expect, it } from 'vitest';
import {
  GprecoversegLocked,
  InvalidRecoveryPlan,
  UnknownHost,
  UnknownOperation,
  UnknownSegment,
  UnsupportedFault,
} from '#cluster/simulated/errors.ts';
import {
  crashSegment,
  failHost,
  loseDataDirectory,
  restoreHost,
} from '#cluster/simulated/faults.ts';
import { createState, type SimulatedClusterState } from '#cluster/simulated/model.ts';
import { pollOperation, startRebalance, startRecovery } from '#cluster/simulated/operations.ts';
import { readConfiguration, readReplication } from '#cluster/simulated/reads.ts';
import { advance, INCREMENTAL_FAILURES_MESSAGE, probe } from '#cluster/simulated/timeline.ts';
import { InvalidTopology, ValidationError } from '#domain/errors.ts';
import type { PlanItem } from '#domain/events.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { expectValid, modesOf, planFor, pollUntilDone } from './helpers.ts';
import { seedCluster } from './clusters.ts';

const seed = (options: SimulationOptionsInput = {}): SimulatedClusterState =>
  createState(seedCluster(), { seed: 7, ...options }, 0);
const rows = (state: SimulatedClusterState, at = state.now) =>
  readConfiguration(state, at).segments;
const row = (state: SimulatedClusterState, dbid: number) =>
  rows(state).find((r) => r.dbid === dbid);

describe('FTS', () => {
  it('marks a stopped mirror down and its pair not in sync; gp_stat_replication loses the walsender', () => {
    let state = crashSegment(seed(), 100, 6);
    state = probe(state, 200);
    expectValid(state);
    expect(modesOf(rows(state))).toBe('2:pun 6:mdn 3:pus 7:mus 4:pus 8:mus 5:pus 9:mus');
    expect(readReplication(state, 200)[0]).toMatchObject({
      content: 0,
      primaryDbid: 2,
      state: undefined,
      walRemainingBytes: undefined,
    });
    expect(readReplication(state, 200)[1]).toMatchObject({
      state: 'streaming',
      syncState: 'sync',
      walRemainingBytes: 0,
    });
  });

  it('reports a double fault and changes nothing when the mirror died before the primary', () => {
    let state = crashSegment(seed(), 100, 7);
    state = crashSegment(state, 150, 3);
    const before = rows(state);
    state = probe(state, 200);
    expectValid(state);
    expect(rows(state)).toEqual(before);
    expect(readConfiguration(state, 200).doubleFaults).toEqual([
      { content: 1, primaryDbid: 3, mirrorDbid: 7 },
    ]);
    expect(state.log.map((l) => l.message)).toContain(
      'FTS double fault detected (content=1) primary dbid=3, mirror dbid=7',
    );
    // The stale mirror is never promoted, and nothing can be recovered from the dead primary.
    expect(() =>
      startRecovery(state, 300, [{ dbid: 7, content: 1, sourceDbid: 3, type: 'full' }], 'k'),
    ).toThrow(InvalidRecoveryPlan);
  });

  it('reports a double fault when the mirror was already marked down', () => {
    let state = probe(crashSegment(seed(), 100, 7), 150);
    state = probe(crashSegment(state, 200, 3), 300);
    expect(modesOf(rows(state)).split(' ').slice(2, 4)).toEqual(['3:pun', '7:mdn']);
    expect(state.doubleFaults).toEqual([{ content: 1, primaryDbid: 3, mirrorDbid: 7 }]);
  });

  it('never probes the coordinator and refuses coordinator faults', () => {
    expect(() => crashSegment(seed(), 0, 1)).toThrow(UnsupportedFault);
    expect(() => failHost(seed(), 0, 'master')).toThrow(UnsupportedFault);
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
    const state = probe(failHost(seed({ hostRestartSeconds: null }), 0, 'segment-2'), 1_000);
    const target = {
      hostname: 'segment-3',
      address: 'segment-3',
      port: 12000,
      datadir: '/data9/gpseg0',
    };
    const run = startRecovery(
      state,
      2_000,
      [{ dbid: 6, content: 0, sourceDbid: 2, type: 'full', target }],
      'k',
    );
    // gprecoverseg updates the catalog before it copies.
    expect(row(run.state, 6)).toMatchObject({ hostname: 'segment-3', port: 12000, status: 'd' });
    const interrupted = failHost(run.state, 3_000, 'segment-3');
    const status = pollOperation(interrupted, 3_000, run.handle.operationId);
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
  it('skips pairs that are not synchronized or lag too far, naming them', () => {
    let state = probe(
      failHost(seed({ replayLag: [{ content: 3, bytes: 11 * 1024 ** 3 }] }), 0, 'segment-2'),
      100,
    );
    const recovered = startRecovery(
      state,
      200,
      planFor(state).filter((i) => i.dbid !== 4),
      'r',
    );
    state = probe(
      recovered.state,
      pollUntilDone(recovered.state, recovered.handle, 200).at + 10_000,
    );
    const run = startRebalance(state, state.now, { replayLagGb: 10 }, 'b');
    const status = pollOperation(run.state, run.state.now, run.handle.operationId);
    expect(status).toMatchObject({ done: true, recovered: [], progress: [] });
    expect(status.skipped).toEqual([
      {
        content: 2,
        reason:
          'Not rebalancing primary segment dbid 8 with its mirror dbid 4 because one is either down, unreachable, or not synchronized',
      },
      {
        content: 3,
        reason:
          "Not rebalancing primary segment dbid 9 with its mirror dbid 5 because the mirror's replay lag (11.0 GB) is at or over the allowed 10 GB",
      },
    ]);
    expect(rows(run.state)).toEqual(rows(state));
  });
});

describe('determinism', () => {
  const run = (seedValue: number) => {
    let state = createState(seedCluster(), { seed: seedValue, incrementalFailsFor: [5] }, 0);
    state = probe(failHost(state, 10, 'segment-2'), 20);
    state = startRecovery(state, 30, planFor(state), 'a').state;
    state = advance(state, 700);
    state = crashSegment(state, 800, 9);
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
