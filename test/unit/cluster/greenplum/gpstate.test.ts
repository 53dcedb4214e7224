import { describe, expect, it } from 'vitest';
import { MalformedOutput } from '#cluster/greenplum/errors.ts';
import { parseGpstateErrors, parseGpstateMirrors } from '#cluster/greenplum/gpstate.ts';
import { readFixture } from './coordinator-stub.ts';

describe('gpstate -m', () => {
  it('reads the seed report after recovery (verbatim)', async () => {
    expect(parseGpstateMirrors(await readFixture('gpstate-m-synchronized.txt'))).toEqual({
      mirroring: 'Group',
      mirrors: [
        {
          address: 'segment-2',
          datadir: '/data1/mirror/gpseg0',
          port: 10500,
          status: 'Passive',
          dataStatus: 'Synchronized',
        },
        {
          address: 'segment-2',
          datadir: '/data1/mirror/gpseg1',
          port: 10501,
          status: 'Passive',
          dataStatus: 'Synchronized',
        },
        {
          address: 'segment-1',
          datadir: '/data1/mirror/gpseg2',
          port: 10500,
          status: 'Passive',
          dataStatus: 'Synchronized',
        },
        {
          address: 'segment-1',
          datadir: '/data1/mirror/gpseg3',
          port: 10501,
          status: 'Passive',
          dataStatus: 'Synchronized',
        },
      ],
    });
  });

  it('reads failed mirrors (blank data status, warning arrows) and mirrors acting as primaries', async () => {
    const { mirrors } = parseGpstateMirrors(await readFixture('gpstate-m-host-down.txt'));
    expect(mirrors.map((m) => [m.address, m.port, m.status, m.dataStatus])).toEqual([
      ['segment-2', 10500, 'Failed', undefined],
      ['segment-2', 10501, 'Failed', undefined],
      ['segment-1', 10500, 'Acting as Primary', 'Not In Sync'],
      ['segment-1', 10501, 'Acting as Primary', 'Not In Sync'],
    ]);
  });

  it('reads a cluster without mirrors', () => {
    expect(
      parseGpstateMirrors(
        '20241223:12:23:14:208233 gpstate:master:gpadmin-[WARNING]:-Mirror not used\n',
      ),
    ).toEqual({ mirroring: 'None', mirrors: [] });
  });

  it('names the line of an unknown status', async () => {
    const text = (await readFixture('gpstate-m-synchronized.txt')).replace(
      'Passive   Synchronized',
      'Resyncin  Synchronized',
    );
    expect(() => parseGpstateMirrors(text)).toThrow(
      /gpstate -m: unknown mirror status "Resyncin" at output line 10/,
    );
  });

  it('refuses output without the mirror list', () => {
    expect(() => parseGpstateMirrors('gpstate: command not found\n')).toThrow(MalformedOutput);
  });
});

describe('gpstate -e', () => {
  it('reads "All segments are running normally" (verbatim)', async () => {
    expect(parseGpstateErrors(await readFixture('gpstate-e-normal.txt'))).toEqual({
      allNormal: true,
      rolesSwitched: [],
      unsynchronized: [],
      downed: [],
      inRecovery: [],
    });
  });

  it('reads switched roles, unsynchronized pairs and downed segments after the host failure', async () => {
    const report = parseGpstateErrors(await readFixture('gpstate-e-host-down.txt'));
    expect(report.allNormal).toBe(false);
    expect(report.rolesSwitched).toEqual([
      { currentPrimary: 'segment-1', port: 10500, mirror: 'segment-2', mirrorPort: 10000 },
      { currentPrimary: 'segment-1', port: 10501, mirror: 'segment-2', mirrorPort: 10001 },
    ]);
    expect(report.unsynchronized).toHaveLength(4);
    expect(report.unsynchronized[0]).toEqual({
      currentPrimary: 'segment-1',
      port: 10000,
      mirror: 'segment-2',
      mirrorPort: 10500,
      walSyncRemainingBytes: 'Unknown',
    });
    expect(report.downed.map((d) => [d.segment, d.port, d.configStatus, d.status])).toEqual([
      ['segment-2', 10500, 'Down', 'Down in configuration'],
      ['segment-2', 10501, 'Down', 'Down in configuration'],
      ['segment-2', 10000, 'Down', 'Down in configuration'],
      ['segment-2', 10001, 'Down', 'Down in configuration'],
    ]);
    expect(report.inRecovery).toEqual([]);
  });

  it('reads segments in recovery and WAL bytes still to sync', async () => {
    const report = parseGpstateErrors(await readFixture('gpstate-e-in-recovery.txt'));
    expect(report.unsynchronized.map((p) => p.walSyncRemainingBytes)).toEqual([1048576, 'Unknown']);
    expect(report.inRecovery).toEqual([
      {
        segment: 'segment-2',
        port: 10000,
        recoveryType: 'incremental',
        stage: undefined,
        completedKb: 1164848,
        totalKb: 1371715,
        percent: 84,
      },
      {
        segment: 'segment-2',
        port: 10001,
        recoveryType: 'full',
        stage: undefined,
        completedKb: 20480,
        totalKb: 1371875,
        percent: 1,
      },
    ]);
  });

  it('names a row that does not line up with its header', async () => {
    const text = (await readFixture('gpstate-e-host-down.txt')).replace(
      '-   segment-1         10500   segment-2   10000',
      '-   segment-1  10500   segment-2   10000',
    );
    expect(() => parseGpstateErrors(text)).toThrow(
      /gpstate -e: row does not line up with column .* at output line 11/,
    );
  });

  it('refuses output without the report', () => {
    expect(() => parseGpstateErrors('ERROR: could not connect\n')).toThrow(
      /gpstate -e: no "Segment Mirroring Status Report"/,
    );
  });

  it('refuses a report that says neither problems nor all normal', async () => {
    const text = (await readFixture('gpstate-e-normal.txt')).replace(
      'All segments are running normally',
      'Hello',
    );
    expect(() => parseGpstateErrors(text)).toThrow(MalformedOutput);
  });
});
