import { describe, expect, it } from 'vitest';
import { MalformedOutput } from '#cluster/greenplum/errors.ts';
import {
  parseGpstateErrors,
  parseGpstateMirrors,
  type GpstateErrorReport,
} from '#cluster/greenplum/gpstate.ts';
import { adapterRun, captureNames, readCapture, sectionText } from './captures.ts';

/** One line per thing gpstate -e reported, to compare a whole report at a glance. */
const summary = (report: GpstateErrorReport): string[] => [
  ...(report.allNormal ? ['normal'] : []),
  ...report.rolesSwitched.map((p) => `switched ${p.currentPrimary}:${p.port}`),
  ...report.unsynchronized.map(
    (p) => `unsync ${p.currentPrimary}:${p.port} ${p.walSyncRemainingBytes}`,
  ),
  ...report.downed.map((d) => `down ${d.segment}:${d.port} ${d.configStatus}/${d.status}`),
  ...report.inRecovery.map(
    (d) =>
      `recovering ${d.segment}:${d.port} ${d.recoveryType} ${d.completedKb}/${d.totalKb} ${d.percent}%`,
  ),
  ...(report.databaseProbablyUnavailable ? ['UNAVAILABLE'] : []),
  ...report.couldNotQuery.map((q) => `unqueried ${q.dbid}`),
];

// Every gpstate -e capture of the real 6.24.3 cluster: its exit status and what it reported.
/** gpstate -e with the coordinator killed (capture 124): it prints no report at all. */
const GPSTATE_E_COORDINATOR_DEAD = '124_gpstate_e_after_coordinator_kill.txt';

const GPSTATE_E: [string, number, string[]][] = [
  ['11_healthy_gpstate_e.txt', 0, ['normal']],
  [
    '24_after_kill_gpstate_e.txt',
    1,
    [
      'switched sdw1:7002',
      'switched sdw1:7003',
      'unsync sdw1:6000 Unknown',
      'unsync sdw1:6001 Unknown',
      'unsync sdw1:7002 Unknown',
      'unsync sdw1:7003 Unknown',
      'down sdw2:7000 Up/Process error -- database process may be down',
      'down sdw2:7001 Up/Process error -- database process may be down',
      'down sdw2:6002 Down/Down in configuration',
      'down sdw2:6003 Down/Down in configuration',
    ],
  ],
  [
    '30d_after_grace_gpstate_e.txt',
    1,
    [
      'switched sdw1:7002',
      'switched sdw1:7003',
      'unsync sdw1:6000 Unknown',
      'unsync sdw1:6001 Unknown',
      'unsync sdw1:7002 Unknown',
      'unsync sdw1:7003 Unknown',
      'down sdw2:7000 Down/Down in configuration',
      'down sdw2:7001 Down/Down in configuration',
      'down sdw2:6002 Down/Down in configuration',
      'down sdw2:6003 Down/Down in configuration',
    ],
  ],
  ['33_poll1_gpstate_e.txt', 1, ['switched sdw1:7002', 'switched sdw1:7003']],
  ['33_poll2_gpstate_e.txt', 1, ['switched sdw1:7002', 'switched sdw1:7003']],
  ['33_poll3_gpstate_e.txt', 1, ['switched sdw1:7002', 'switched sdw1:7003']],
  ['33_poll4_gpstate_e.txt', 1, ['switched sdw1:7002', 'switched sdw1:7003']],
  ['33_poll5_gpstate_e.txt', 1, ['switched sdw1:7002', 'switched sdw1:7003']],
  ['33_poll6_gpstate_e.txt', 1, ['switched sdw1:7002', 'switched sdw1:7003']],
  ['42_after_rebalance_gpstate_e.txt', 0, ['normal']],
  [
    '51c_mirror_only_gpstate_e_within_grace.txt',
    1,
    ['unsync sdw1:6000 Unknown', 'down sdw2:7000 Up/Process error -- database process may be down'],
  ],
  [
    '51f_mirror_only_gpstate_e_after_grace.txt',
    1,
    ['unsync sdw1:6000 Unknown', 'down sdw2:7000 Down/Down in configuration'],
  ],
  [
    '52_during_recovery_poll_01_gpstate_e.txt',
    1,
    ['unsync sdw1:6000 Unknown', 'down sdw2:7000 Down/Down in configuration'],
  ],
  [
    '52_during_recovery_poll_02_gpstate_e.txt',
    1,
    ['unsync sdw1:6000 Unknown', 'down sdw2:7000 Down/Down in configuration'],
  ],
  ['52_during_recovery_poll_03_gpstate_e.txt', 1, ['down sdw2:7000 Down/Down in configuration']],
  ['52_during_recovery_poll_04_gpstate_e.txt', 0, ['normal']],
  ['52_during_recovery_poll_05_gpstate_e.txt', 0, ['normal']],
  ['52_during_recovery_poll_06_gpstate_e.txt', 0, ['normal']],
  ['52_during_recovery_poll_07_gpstate_e.txt', 0, ['normal']],
  ['52_during_recovery_poll_08_gpstate_e.txt', 0, ['normal']],
  ['52_during_recovery_poll_09_gpstate_e.txt', 0, ['normal']],
  ['52_during_recovery_poll_10_gpstate_e.txt', 0, ['normal']],
  ['53_after_recovery_poll_1_gpstate_e.txt', 0, ['normal']],
  ['53_after_recovery_poll_2_gpstate_e.txt', 0, ['normal']],
  ['53_after_recovery_poll_3_gpstate_e.txt', 0, ['normal']],
  [
    '62_during_full_recovery_poll_1_gpstate_e.txt',
    1,
    ['unsync sdw1:6001 Unknown', 'down sdw2:7001 Down/Down in configuration'],
  ],
  [
    '62_during_full_recovery_poll_2_gpstate_e.txt',
    1,
    ['unsync sdw1:6001 Unknown', 'down sdw2:7001 Down/Down in configuration'],
  ],
  [
    '62_during_full_recovery_poll_3_gpstate_e.txt',
    1,
    [
      'unsync sdw1:6001 Unknown',
      'down sdw2:7001 Down/Down in configuration',
      'recovering sdw2:7001 full 114843/235457 48%',
    ],
  ],
  [
    '62_during_full_recovery_poll_4_gpstate_e.txt',
    1,
    ['down sdw2:7001 Down/Down in configuration'],
  ],
  ['62_during_full_recovery_poll_5_gpstate_e.txt', 0, ['normal']],
  ['62_during_full_recovery_poll_6_gpstate_e.txt', 0, ['normal']],
  ['64b_after_full_gpstate_e.txt', 0, ['normal']],
  [
    '70d_nodir_gpstate_e.txt',
    1,
    ['unsync sdw2:6002 Unknown', 'down sdw1:7002 Down/Down in configuration'],
  ],
  [
    '71c_nodir_gpstate_e_after_failed_incremental.txt',
    1,
    ['unsync sdw2:6002 Unknown', 'down sdw1:7002 Down/Down in configuration'],
  ],
  ['73b_nodir_after_full_gpstate_e.txt', 0, ['normal']],
  [
    '80d_double_fault_gpstate_e.txt',
    1,
    [
      'switched sdw1:7003',
      'down sdw1:7003 Up/Process error -- database process may be down',
      'down sdw2:6003 Down/Down in configuration',
      'UNAVAILABLE',
      'unqueried 9',
    ],
  ],
  [
    '81b_double_fault_gpstate_e_after_grace.txt',
    1,
    [
      'switched sdw1:7003',
      'down sdw1:7003 Up/Process error -- database process may be down',
      'down sdw2:6003 Down/Down in configuration',
      'UNAVAILABLE',
      'unqueried 9',
    ],
  ],
  [
    '85b_double_fault_after_restart_gpstate_e.txt',
    1,
    ['switched sdw1:7003', 'unsync sdw1:7003 Unknown', 'down sdw2:6003 Down/Down in configuration'],
  ],
  ['88b_double_fault_final_gpstate_e.txt', 0, ['normal']],
  [
    '94c_p_gpstate_e_after.txt',
    1,
    ['unsync sdw1:6001 Unknown', 'down sdw3:6000 Down/Down in configuration'],
  ],
  ['95c_i_relocate_gpstate_e_after.txt', 0, ['normal']],
  ['97c_move_back_gpstate_e_after.txt', 0, ['normal']],
  ['98b_final_gpstate_e.txt', 0, ['normal']],
];

const GPSTATE_M: [string, number, string[]][] = [
  [
    '12_healthy_gpstate_m.txt',
    0,
    [
      'sdw2:7000 Passive Synchronized',
      'sdw2:7001 Passive Synchronized',
      'sdw1:7002 Passive Synchronized',
      'sdw1:7003 Passive Synchronized',
    ],
  ],
  [
    '25_after_kill_gpstate_m.txt',
    0,
    [
      'sdw2:7000 Passive Synchronized',
      'sdw2:7001 Passive Synchronized',
      'sdw1:7002 Acting as Primary Not In Sync',
      'sdw1:7003 Acting as Primary Not In Sync',
    ],
  ],
  [
    '30e_after_grace_gpstate_m.txt',
    1,
    [
      'sdw2:7000 Failed',
      'sdw2:7001 Failed',
      'sdw1:7002 Acting as Primary Not In Sync',
      'sdw1:7003 Acting as Primary Not In Sync',
    ],
  ],
  [
    '43_after_rebalance_gpstate_m.txt',
    0,
    [
      'sdw2:7000 Passive Synchronized',
      'sdw2:7001 Passive Synchronized',
      'sdw1:7002 Passive Synchronized',
      'sdw1:7003 Passive Synchronized',
    ],
  ],
  [
    '51g_mirror_only_gpstate_m_after_grace.txt',
    1,
    [
      'sdw2:7000 Failed',
      'sdw2:7001 Passive Synchronized',
      'sdw1:7002 Passive Synchronized',
      'sdw1:7003 Passive Synchronized',
    ],
  ],
  [
    '80e_double_fault_gpstate_m.txt',
    0,
    [
      'sdw2:7000 Passive Synchronized',
      'sdw2:7001 Passive Synchronized',
      'sdw1:7002 Passive Synchronized',
      'sdw1:7003 Acting as Primary Not In Sync',
    ],
  ],
  [
    '94d_p_gpstate_m_after.txt',
    1,
    [
      'sdw2:7000 Passive Synchronized',
      'sdw3:6000 Failed',
      'sdw1:7002 Passive Synchronized',
      'sdw1:7003 Passive Synchronized',
    ],
  ],
  [
    '95d_i_relocate_gpstate_m_after.txt',
    0,
    [
      'sdw2:7000 Passive Synchronized',
      'sdw3:7101 Passive Synchronized',
      'sdw1:7002 Passive Synchronized',
      'sdw1:7003 Passive Synchronized',
    ],
  ],
  [
    '98c_final_gpstate_m.txt',
    0,
    [
      'sdw2:7000 Passive Synchronized',
      'sdw2:7001 Passive Synchronized',
      'sdw1:7002 Passive Synchronized',
      'sdw1:7003 Passive Synchronized',
    ],
  ],
];

describe('gpstate -e on every real 6.24.3 capture', () => {
  it('covers every gpstate -e capture', async () => {
    expect([...GPSTATE_E.map(([name]) => name), GPSTATE_E_COORDINATOR_DEAD].sort()).toEqual(
      await captureNames(/gpstate_e/),
    );
  });

  it(`${GPSTATE_E_COORDINATOR_DEAD}: the coordinator dead, no report to read (CRITICAL, exit 2)`, async () => {
    const { body, exitStatus } = await readCapture(GPSTATE_E_COORDINATOR_DEAD);
    expect(exitStatus).toBe(2);
    expect(() => parseGpstateErrors(body, exitStatus)).toThrow(
      /^gpstate -e: no "Segment Mirroring Status Report" .*gpstate failed\. \(Reason='could not connect to server: Connection refused/,
    );
  });

  it.each(GPSTATE_E)('%s (exit %i)', async (name, exitStatus, expected) => {
    const capture = await readCapture(name);
    expect(capture.exitStatus).toBe(exitStatus);
    // gpstate -e exits 1 whenever it lists anything; the parser checks it.
    expect(summary(parseGpstateErrors(capture.body, capture.exitStatus))).toEqual(expected);
  });

  it('62_during_full_recovery_poll_3_gpstate_e.txt: the "Segments in recovery" row in full', async () => {
    const { body } = await readCapture('62_during_full_recovery_poll_3_gpstate_e.txt');
    expect(parseGpstateErrors(body).inRecovery).toEqual([
      {
        segment: 'sdw2',
        port: 7001,
        recoveryType: 'full',
        stage: undefined,
        completedKb: 114843,
        totalKb: 235457,
        percent: 48,
      },
    ]);
  });

  it('80d_double_fault_gpstate_e.txt: the unqueried segment, by dbid and address', async () => {
    const { body } = await readCapture('80d_double_fault_gpstate_e.txt');
    expect(parseGpstateErrors(body).couldNotQuery).toEqual([
      { dbid: 9, address: 'sdw1', port: 7003 },
    ]);
  });

  it('7dac47ce (adapter run "recoverseg: gpstate -e"): all normal, as the adapter received it', async () => {
    const run = await adapterRun('7dac47ce-722f-407c-a7c4-2779389be706');
    expect(summary(parseGpstateErrors(sectionText(run.decoded, 'gpstate')))).toEqual(['normal']);
  });

  it('refuses an exit status that contradicts the report (24_after_kill_gpstate_e.txt with exit 0)', async () => {
    const { body } = await readCapture('24_after_kill_gpstate_e.txt');
    expect(() => parseGpstateErrors(body, 0)).toThrow(
      /^gpstate -e: exit status 0, but the report it printed means exit status 1 at output line 0: ""; the output began /,
    );
  });

  it('refuses a report cut off before its end (30d_after_grace_gpstate_e.txt without its last table rows)', async () => {
    const { body } = await readCapture('30d_after_grace_gpstate_e.txt');
    const cut = body.slice(0, body.indexOf('Downed Segments') + 'Downed Segments'.length);
    expect(() => parseGpstateErrors(cut)).toThrow(MalformedOutput);
  });
});

describe('gpstate -m on every real 6.24.3 capture', () => {
  it('covers every gpstate -m capture', async () => {
    expect(GPSTATE_M.map(([name]) => name)).toEqual(await captureNames(/gpstate_m/));
  });

  it.each(GPSTATE_M)('%s (exit %i)', async (name, exitStatus, expected) => {
    const capture = await readCapture(name);
    expect(capture.exitStatus).toBe(exitStatus);
    const { mirroring, mirrors } = parseGpstateMirrors(capture.body, capture.exitStatus);
    expect(mirroring).toBe('Group');
    expect(
      mirrors.map(
        (m) => `${m.address}:${m.port} ${m.status}${m.dataStatus ? ` ${m.dataStatus}` : ''}`,
      ),
    ).toEqual(expected);
  });

  it('94d_p_gpstate_m_after.txt: the failed mirror row printed at WARNING with arrows lines up', async () => {
    const { body } = await readCapture('94d_p_gpstate_m_after.txt');
    expect(parseGpstateMirrors(body).mirrors[1]).toEqual({
      address: 'sdw3',
      datadir: '/data1/gpdb/sdw2/mirror/gpseg1',
      port: 6000,
      status: 'Failed',
      dataStatus: undefined,
    });
  });

  it('e04dbe4f (adapter run "recoverseg: gpstate -m"): as the adapter received it', async () => {
    const run = await adapterRun('e04dbe4f-a383-4810-bcdf-6f822b41b5d0');
    expect(parseGpstateMirrors(sectionText(run.decoded, 'gpstate')).mirrors).toHaveLength(4);
  });

  it('refuses 30e_after_grace_gpstate_m.txt with exit 0 (it lists failed mirrors)', async () => {
    const { body } = await readCapture('30e_after_grace_gpstate_m.txt');
    expect(() => parseGpstateMirrors(body, 0)).toThrow(/exit status 0, but the report/);
  });
});

describe('bad gpstate output', () => {
  it.each([
    ['nothing at all', ''],
    ['a shell error', 'bash: gpstate: command not found\n'],
    ['ANSI and CR noise', '\x1b[31mSegment Mirroring\x1b[0m Status\r\n'],
    ['a very long line', `${'x'.repeat(100_000)}\n`],
  ])('gpstate -e refuses %s, carrying the first lines', (_, text) => {
    const attempt = () => parseGpstateErrors(text);
    expect(attempt).toThrow(MalformedOutput);
    try {
      attempt();
    } catch (error) {
      expect((error as MalformedOutput).firstLines.every((line) => line.length <= 200)).toBe(true);
    }
  });

  it('gpstate -m refuses a row that does not line up with the header (12_healthy_gpstate_m.txt shifted)', async () => {
    const { body } = await readCapture('12_healthy_gpstate_m.txt');
    const shifted = body.replace('-   sdw2     /data1', '-   sdw2 /data1');
    expect(() => parseGpstateMirrors(shifted)).toThrow(/does not line up|unknown|not a number/);
  });

  it('gpstate -m refuses an unknown mirror status (43_after_rebalance_gpstate_m.txt edited in memory)', async () => {
    const { body } = await readCapture('43_after_rebalance_gpstate_m.txt');
    expect(() => parseGpstateMirrors(body.replace('Passive', 'Resynci'))).toThrow(
      /unknown mirror status "Resynci"/,
    );
  });

  it('gpstate -m reads a cluster without mirrors', () => {
    expect(
      parseGpstateMirrors(
        '20241223:12:23:14:208233 gpstate:mdw:gpadmin-[WARNING]:-Mirror not used\n',
      ),
    ).toEqual({ mirroring: 'None', mirrors: [] });
  });
});
