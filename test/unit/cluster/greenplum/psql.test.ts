import { describe, expect, it } from 'vitest';
import { MalformedOutput } from '#cluster/greenplum/errors.ts';
import {
  currentDoubleFaults,
  parseDoubleFaultContents,
  parseReplication,
  parseSegmentRows,
} from '#cluster/greenplum/psql.ts';
import { SEED_HOST_DOWN_ROWS } from './coordinator-stub.ts';

const lines = (text: string) =>
  text === '' ? [] : text.split('\n').map((t, i) => ({ number: i + 1, text: t }));

const SEED = parseSegmentRows('psql', lines(SEED_HOST_DOWN_ROWS));

describe('parseSegmentRows', () => {
  it('reads gp_segment_configuration rows into validated SegmentRows', () => {
    expect(SEED).toHaveLength(10);
    expect(SEED[6]).toEqual({
      dbid: 8,
      content: 2,
      role: 'p',
      preferred_role: 'm',
      mode: 'n',
      status: 'u',
      port: 10500,
      hostname: 'segment-1',
      address: 'segment-1',
      datadir: '/data1/mirror/gpseg2',
    });
  });

  it.each([
    [
      'a missing field',
      '4|2|m|p|n|d|10000|segment-2|/data1/primary/gpseg2',
      /expected 10 fields, found 9/,
    ],
    [
      'a datadir containing |',
      '4|2|m|p|n|d|10000|segment-2|segment-2|/data1/a|b',
      /expected 10 fields, found 11/,
    ],
    [
      'a role Greenplum 6 never shows',
      '4|2|x|p|n|d|10000|segment-2|segment-2|/data1/primary/gpseg2',
      /role/,
    ],
    ['a Greenplum 5 mode', '4|2|m|p|c|d|10000|segment-2|segment-2|/data1/primary/gpseg2', /mode/],
    [
      'a port that is not a number',
      '4|2|m|p|n|d|1e4|segment-2|segment-2|/data1/primary/gpseg2',
      /port "1e4"/,
    ],
    [
      'a hostile host name',
      '4|2|m|p|n|d|10000|seg;rm -rf /|segment-2|/data1/primary/gpseg2',
      /hostname/,
    ],
    ['a hostile datadir', '4|2|m|p|n|d|10000|segment-2|segment-2|/data1/$(id)', /datadir/],
  ])('refuses %s, naming the line', (_, row, problem) => {
    const attempt = () =>
      parseSegmentRows('read gp_segment_configuration', lines(`${SEED_HOST_DOWN_ROWS}\n${row}`));
    expect(attempt).toThrow(MalformedOutput);
    expect(attempt).toThrow(problem);
    expect(attempt).toThrow(/^read gp_segment_configuration: .* at output line 11:/);
  });
});

describe('double faults', () => {
  it('reports a content named by the history while its pair is still not in sync', () => {
    expect(currentDoubleFaults(SEED, parseDoubleFaultContents('psql', lines('1')))).toEqual([
      { content: 1, primaryDbid: 3, mirrorDbid: 7 },
    ]);
  });

  it('ignores a history line once the pair is synchronized again', () => {
    const synced = SEED.map((row) =>
      row.content === 1 ? { ...row, mode: 's' as const, status: 'u' as const } : row,
    );
    expect(currentDoubleFaults(synced, [1])).toEqual([]);
  });

  it('refuses a content that is not a number', () => {
    expect(() => parseDoubleFaultContents('psql', lines('one'))).toThrow(MalformedOutput);
  });
});

describe('parseReplication', () => {
  const SYNCED = SEED_HOST_DOWN_ROWS.replaceAll('|n|d|', '|s|u|').replaceAll('|n|u|', '|s|u|');
  const synced = parseSegmentRows('psql', lines(SYNCED));

  it('joins walsender states with the per-segment byte counts, preferring gp_walreceiver', () => {
    const states = parseReplication(
      'psql',
      synced,
      lines(
        [
          '0|gp_walreceiver|streaming|sync|none',
          '1|gp_walreceiver|catchup|async|none',
          '2|pg_basebackup|backup||none',
          '3|gp_walreceiver|streaming|sync|walread',
          '3|pg_basebackup|backup||none',
        ].join('\n'),
      ),
      lines(
        ['0|gp_walreceiver|0|0', '1|gp_walreceiver|1048576|4096', '3|gp_walreceiver||'].join('\n'),
      ),
    );
    expect(states).toEqual([
      {
        content: 0,
        primaryDbid: 2,
        state: 'streaming',
        syncState: 'sync',
        syncError: 'none',
        walRemainingBytes: 0,
        replayLagBytes: 0,
      },
      {
        content: 1,
        primaryDbid: 3,
        state: 'catchup',
        syncState: 'async',
        syncError: 'none',
        walRemainingBytes: 1048576,
        replayLagBytes: 4096,
      },
      {
        content: 2,
        primaryDbid: 8,
        state: 'backup',
        syncState: undefined,
        syncError: 'none',
        walRemainingBytes: undefined,
        replayLagBytes: undefined,
      },
      {
        content: 3,
        primaryDbid: 9,
        state: 'streaming',
        syncState: 'sync',
        syncError: 'walread',
        walRemainingBytes: undefined,
        replayLagBytes: undefined,
      },
    ]);
  });

  it('leaves a pair without a walsender unknown, as gpstate shows Unknown', () => {
    const states = parseReplication('psql', SEED, [], []);
    expect(states.map((s) => [s.content, s.state, s.walRemainingBytes])).toEqual([
      [0, undefined, undefined],
      [1, undefined, undefined],
      [2, undefined, undefined],
      [3, undefined, undefined],
    ]);
  });

  it.each([
    ['an unknown walsender state', '0|gp_walreceiver|streamin|sync|none', ''],
    ['an unknown sync_error', '0|gp_walreceiver|streaming|sync|disk', ''],
    [
      'a byte count that is not a number',
      '0|gp_walreceiver|streaming|sync|none',
      '0|gp_walreceiver|0/3000000|0',
    ],
  ])('refuses %s', (_, senders, lag) => {
    expect(() => parseReplication('psql', synced, lines(senders), lines(lag))).toThrow(
      MalformedOutput,
    );
  });
});
