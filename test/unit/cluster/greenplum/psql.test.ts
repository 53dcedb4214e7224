import { describe, expect, it } from 'vitest';
import { MalformedOutput } from '#cluster/greenplum/errors.ts';
import { parseReplication, parseResponses, parseSegmentRows } from '#cluster/greenplum/psql.ts';
import { adapterRun, outputLines, readCapture, sectionText } from './captures.ts';

/** The sections of one adapter run of adapter-runs-2919f23.jsonl, as OutputLines. */
async function sections(id: string) {
  const { decoded } = await adapterRun(id);
  return (name: string) => outputLines(sectionText(decoded, name));
}

// adapter-runs-2919f23.jsonl: what="recoverseg: read gp_stat_replication", started
// 2026-12-02T13:49:50.182Z: sdw2 killed, its primaries failed over, its mirrors marked down.
const HOST_DOWN = '0ad32616-c3b8-4beb-944e-4696623672bc';
// what="recoverseg: read gp_stat_replication", started 2026-12-02T13:47:13.082Z: healthy.
const HEALTHY = '1c1d52da-36ed-491f-a3fd-45de47560322';

describe('parseSegmentRows on real gp_segment_configuration rows', () => {
  it('d7aba55e (what="recoverseg: read gp_segment_configuration", 13:47:12.810Z): the healthy cluster', async () => {
    const rows = parseSegmentRows(
      'psql',
      (await sections('d7aba55e-54fd-4915-bd92-f2047b4bdf1f'))('segments'),
    );
    expect(rows).toHaveLength(9);
    expect(rows[0]).toEqual({
      dbid: 1,
      content: -1,
      role: 'p',
      preferred_role: 'p',
      mode: 'n',
      status: 'u',
      port: 5432,
      hostname: 'mdw',
      address: 'mdw',
      datadir: '/data1/gpdb/master/gpseg-1',
    });
  });

  it(`${HOST_DOWN} (after sdw2 failed): roles switched, mirrors down`, async () => {
    const rows = parseSegmentRows('psql', (await sections(HOST_DOWN))('segments'));
    expect(rows.filter((r) => r.status === 'd').map((r) => r.dbid)).toEqual([6, 7]);
    expect(rows.filter((r) => r.role !== r.preferred_role).map((r) => r.dbid)).toEqual([
      4, 8, 5, 9,
    ]);
  });

  it.each([
    [
      'a missing field',
      '4|2|m|p|n|d|6002|sdw2|/data1/gpdb/sdw2/primary/gpseg2',
      /expected 10 fields, found 9/,
    ],
    [
      'a datadir containing |',
      '4|2|m|p|n|d|6002|sdw2|sdw2|/data1/a|b',
      /expected 10 fields, found 11/,
    ],
    [
      'a role Greenplum 6 never shows',
      '4|2|x|p|n|d|6002|sdw2|sdw2|/data1/gpdb/sdw2/primary/gpseg2',
      /role/,
    ],
    ['a Greenplum 5 mode', '4|2|m|p|c|d|6002|sdw2|sdw2|/data1/gpdb/sdw2/primary/gpseg2', /mode/],
    [
      'a port that is not a number',
      '4|2|m|p|n|d|6e3|sdw2|sdw2|/data1/gpdb/sdw2/primary/gpseg2',
      /port "6e3"/,
    ],
    [
      'a hostile host name',
      '4|2|m|p|n|d|6002|sdw2;rm -rf /|sdw2|/data1/gpdb/sdw2/primary/gpseg2',
      /hostname/,
    ],
    ['a hostile datadir', '4|2|m|p|n|d|6002|sdw2|sdw2|/data1/$(id)', /datadir/],
    ['ANSI noise', '\x1b[31m4|2|m|p|n|d|6002|sdw2|sdw2|/data1/gpdb/sdw2/primary/gpseg2', /dbid/],
  ])('refuses %s after the real rows of d7aba55e, naming the line', async (_, row, problem) => {
    const { decoded } = await adapterRun('d7aba55e-54fd-4915-bd92-f2047b4bdf1f');
    const attempt = () =>
      parseSegmentRows(
        'read gp_segment_configuration',
        outputLines(`${sectionText(decoded, 'segments')}\n${row}`),
      );
    expect(attempt).toThrow(MalformedOutput);
    expect(attempt).toThrow(problem);
    expect(attempt).toThrow(/^read gp_segment_configuration: .* at output line 10:/);
  });
});

describe('parseReplication on real gp_stat_replication and WAL lag rows', () => {
  it(`${HEALTHY}: every pair streaming, in sync, no lag`, async () => {
    const section = await sections(HEALTHY);
    const states = parseReplication(
      'psql',
      parseSegmentRows('psql', section('segments')),
      section('replication'),
      section('wal_lag'),
    );
    expect(
      states.map((s) => [
        s.content,
        s.primaryDbid,
        s.state,
        s.syncState,
        s.walRemainingBytes,
        s.replayLagBytes,
      ]),
    ).toEqual([
      [0, 2, 'streaming', 'sync', 0, 0],
      [1, 3, 'streaming', 'sync', 0, 0],
      [2, 4, 'streaming', 'sync', 0, 0],
      [3, 5, 'streaming', 'sync', 0, 0],
    ]);
  });

  it(`${HOST_DOWN}: a pair with no walsender (mirror dead) has no state, not a guess`, async () => {
    const section = await sections(HOST_DOWN);
    const states = parseReplication(
      'psql',
      parseSegmentRows('psql', section('segments')),
      section('replication'),
      section('wal_lag'),
    );
    expect(states).toEqual([
      {
        content: 0,
        primaryDbid: 2,
        state: undefined,
        syncState: undefined,
        syncError: 'none',
        walRemainingBytes: undefined,
        replayLagBytes: undefined,
      },
      {
        content: 1,
        primaryDbid: 3,
        state: undefined,
        syncState: undefined,
        syncError: 'none',
        walRemainingBytes: undefined,
        replayLagBytes: undefined,
      },
      {
        content: 2,
        primaryDbid: 8,
        state: 'streaming',
        syncState: 'sync',
        syncError: 'none',
        walRemainingBytes: 0,
        replayLagBytes: 0,
      },
      {
        content: 3,
        primaryDbid: 9,
        state: 'streaming',
        syncState: 'sync',
        syncError: 'none',
        walRemainingBytes: 0,
        replayLagBytes: 0,
      },
    ]);
  });

  it.each([
    [
      'an unknown walsender state',
      '0|gp_walreceiver|dancing|sync|none',
      '',
      /unknown walsender state "dancing"/,
    ],
    [
      'an unknown sync_error',
      '0|gp_walreceiver|streaming|sync|maybe',
      '',
      /unknown sync_error "maybe"/,
    ],
    [
      'a lag that is not a number',
      '0|gp_walreceiver|streaming|sync|none',
      '0|gp_walreceiver|1e9|0',
      /WAL remaining bytes "1e9"/,
    ],
    ['a truncated row', '0|gp_walreceiver|streaming', '', /expected 5 fields, found 3/],
  ])('refuses %s', async (_, sender, lag, problem) => {
    const section = await sections(HEALTHY);
    const attempt = () =>
      parseReplication(
        'psql',
        parseSegmentRows('psql', section('segments')),
        outputLines(sender),
        outputLines(lag),
      );
    expect(attempt).toThrow(MalformedOutput);
    expect(attempt).toThrow(problem);
  });
});

describe('parseResponses: which acting primaries answer pg_isready', () => {
  const responds = (text: string) => outputLines(text);

  it('102_pg_isready_alive_and_dead.txt: pg_isready exits 0 when accepting, 2 on no response', async () => {
    const capture = await readCapture('102_pg_isready_alive_and_dead.txt');
    expect([...capture.body.matchAll(/^rc=(\d+)$/gm)].map((m) => Number(m[1]))).toEqual([0, 2]);
    // The acting primaries of HOST_DOWN are 2, 3, 8, 9; one answers as 6000 did, one as 7999 did.
    const segments = parseSegmentRows('psql', (await sections(HOST_DOWN))('segments'));
    expect(parseResponses('responds', responds('2|0\n3|0\n8|0\n9|2'), segments)).toEqual({
      unresponsive: [9],
      notReady: [],
    });
    expect(parseResponses('responds', responds('2|0\n3|0\n8|0\n9|0'), segments)).toEqual({
      unresponsive: [],
      notReady: [],
    });
  });

  it('103_pg_isready_mirror_during_promotion.txt: 64 (mirror ready) while a promoted mirror finishes its promotion is alive, not ready', async () => {
    const capture = await readCapture('103_pg_isready_mirror_during_promotion.txt');
    const answers = [...capture.body.matchAll(/^\S+ sdw1:7002 - (.+)\nrc=(\d+)$/gm)].map(
      (m) => [m[1], Number(m[2])] as const,
    );
    // Every answer of the capture is one the parser knows: 64 while a mirror, then 0.
    expect(new Set(answers.map(([text, rc]) => `${rc} ${text}`))).toEqual(
      new Set(['64 mirror ready', '0 accepting connections']),
    );
    expect(answers.findIndex(([, rc]) => rc === 0)).toBeGreaterThan(0);
    // HOST_DOWN after FTS: dbid 8 (sdw1:7002) already acting primary of content 2, still a mirror.
    const segments = parseSegmentRows('psql', (await sections(HOST_DOWN))('segments'));
    for (const [, rc] of answers)
      expect(parseResponses('responds', responds(`2|0\n3|0\n8|${rc}\n9|0`), segments)).toEqual({
        unresponsive: [],
        notReady: rc === 64 ? [{ dbid: 8, answer: 'mirror-ready' }] : [],
      });
  });

  it('reads 1 (rejecting connections: starting up, in recovery) as alive but not ready', async () => {
    const segments = parseSegmentRows('psql', (await sections(HOST_DOWN))('segments'));
    expect(parseResponses('responds', responds('2|0\n3|1\n8|64\n9|2'), segments)).toEqual({
      unresponsive: [9],
      notReady: [
        { dbid: 3, answer: 'rejecting' },
        { dbid: 8, answer: 'mirror-ready' },
      ],
    });
  });

  it.each([
    ['exit status 3', '2|0\n3|3\n8|0\n9|0', /pg_isready exit status 3 \(no attempt made\)/],
    ['an exit status libpq does not define', '2|0\n3|65\n8|0\n9|0', /exit status 65 \(not one/],
    ['an unknown dbid', '2|0\n3|0\n8|0\n9|0\n42|0', /dbid 42 is not an acting primary/],
    ['a mirror', '2|0\n3|0\n8|0\n9|0\n6|2', /dbid 6 is not an acting primary/],
    ['the coordinator', '1|0\n2|0\n3|0\n8|0\n9|0', /dbid 1 is not an acting primary/],
    ['a missing acting primary', '2|0\n3|0\n8|0', /no pg_isready answer for acting primary dbid 9/],
    ['a dbid twice', '2|0\n2|2\n3|0\n8|0\n9|0', /dbid 2 answered twice/],
    ['a malformed line', '2|0\n3 0\n8|0\n9|0', /expected 2 fields, found 1/],
    [
      'pg_isready text instead of a status',
      '2|127.0.0.1:6000 - accepting connections',
      /is not an integer/,
    ],
    ['nothing', '', /no pg_isready answer for acting primary dbid 2, 3, 8, 9/],
  ])('refuses %s with MalformedOutput', async (_, text, problem) => {
    const segments = parseSegmentRows('psql', (await sections(HOST_DOWN))('segments'));
    const attempt = () => parseResponses('responds', responds(text), segments);
    expect(attempt).toThrow(MalformedOutput);
    expect(attempt).toThrow(problem);
  });
});
