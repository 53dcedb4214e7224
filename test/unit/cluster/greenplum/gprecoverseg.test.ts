import { describe, expect, it } from 'vitest';
import type { OperationHandle, OperationStatus } from '#cluster/port.ts';
import {
  GprecoversegFailed,
  GprecoversegFlagConflict,
  GprecoversegLocked,
  StaleGprecoversegLock,
  MalformedOutput,
  OperationNotFound,
} from '#cluster/greenplum/errors.ts';
import { parseOperationOutput, parseStartOutput } from '#cluster/greenplum/gprecoverseg.ts';
import { adapterRun, pollOutput, readCapture, type Capture } from './captures.ts';

const recovery: OperationHandle = {
  operationId: 'recovery-incident-0123456789ab',
  kind: 'recovery',
};
const rebalance: OperationHandle = {
  operationId: 'rebalance-incident-0123456789ab',
  kind: 'rebalance',
};

/** Every segment of the captured cluster, as the rebalance start script writes its plan. */
const REBALANCE_PLAN = [
  '2|0|incremental|sdw1|6000',
  '3|1|incremental|sdw1|6001',
  '4|2|incremental|sdw2|6002',
  '5|3|incremental|sdw2|6003',
  '6|0|incremental|sdw2|7000',
  '7|1|incremental|sdw2|7001',
  '8|2|incremental|sdw1|7002',
  '9|3|incremental|sdw1|7003',
];

/** Polls a run whose one gprecoverseg printed `name`, as production would, and parses the answer. */
async function pollCapture(
  name: string,
  plan: string[],
  handle: OperationHandle = recovery,
  phase = handle.kind === 'rebalance' ? 'rebalance' : plan[0]!.split('|')[2]!,
): Promise<OperationStatus> {
  const capture = await readCapture(name);
  return parseOperationOutput(
    handle,
    await pollOutput(handle, { phases: [{ phase, capture }], plan }),
  );
}

const parseError = async (promise: Promise<unknown>): Promise<Error> => {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the poll to fail');
};

describe('gprecoverseg runs of a real Greenplum 6.24.3 cluster, fed through pollScript', () => {
  it('32_gprecoverseg_a.txt: incremental recovery of the four segments of sdw2', async () => {
    const status = await pollCapture('32_gprecoverseg_a.txt', [
      '4|2|incremental|sdw2|6002',
      '5|3|incremental|sdw2|6003',
      '6|0|incremental|sdw2|7000',
      '7|1|incremental|sdw2|7001',
    ]);
    expect(status).toEqual({
      operationId: recovery.operationId,
      kind: 'recovery',
      done: true,
      progress: [
        { dbid: 4, type: 'incremental', completedKb: 105366, totalKb: 220671, percent: 47 },
        { dbid: 5, type: 'incremental', completedKb: 162113, totalKb: 220671, percent: 73 },
      ],
      recovered: [4, 5, 6, 7],
      failures: [],
      skipped: [],
    });
  });

  it('32_gprecoverseg_a.txt: while it runs, progress and no outcome', async () => {
    const capture = await readCapture('32_gprecoverseg_a.txt');
    const running: Capture = {
      ...capture,
      // The log up to the last progress line, as a poll in the middle of the run reads it.
      body: capture.body.slice(0, capture.body.indexOf('sdw2 (dbid 4): Done!')),
    };
    const output = await pollOutput(recovery, {
      phases: [{ phase: 'incremental', capture: running }],
      plan: ['4|2|incremental|sdw2|6002', '5|3|incremental|sdw2|6003'],
      finished: false,
    });
    // The runner has not written its phase-exit marker yet either.
    const status = parseOperationOutput(
      recovery,
      output.replace(/@@recoverseg:phase-exit incremental 0@@\n/, ''),
    );
    expect(status).toMatchObject({ done: false, recovered: [], failures: [] });
    expect(status.progress.map((p) => [p.dbid, p.percent])).toEqual([
      [4, 47],
      [5, 73],
    ]);
  });

  it.each([
    ['52_mirror_only_gprecoverseg_a.txt', '6|0|incremental|sdw2|7000', []],
    ['61_full_gprecoverseg_aF.txt', '7|1|full|sdw2|7001', [[7, 48]]],
    ['72_nodir_gprecoverseg_aF.txt', '8|2|full|sdw1|7002', [[8, 2]]],
    ['86_double_fault_gprecoverseg_a_after_restart.txt', '5|3|incremental|sdw2|6003', [[5, 53]]],
    ['91_i_gprecoverseg_a_i_inplace.txt', '6|0|incremental|sdw2|7000', []],
    ['95a_i_gprecoverseg_a_i_relocate_to_sdw3.txt', '7|1|full|sdw3|7101', []],
    // Run on a terminal: \r, ESC[1A and ESC[K around the progress lines.
    ['97_move_back_gprecoverseg_a_i_TTY_via_script.txt', '7|1|full|sdw2|7001', [[7, 63]]],
  ])('%s: the planned segment is recovered', async (name, planLine, progress) => {
    const status = await pollCapture(name, [planLine]);
    const dbid = Number(planLine.split('|')[0]);
    expect(status).toMatchObject({ done: true, recovered: [dbid], failures: [], skipped: [] });
    expect(status.progress.map((p) => [p.dbid, p.percent])).toEqual(progress);
  });

  it('71_nodir_gprecoverseg_a_incremental_fails.txt: a failed incremental needs a full recovery', async () => {
    const status = await pollCapture('71_nodir_gprecoverseg_a_incremental_fails.txt', [
      '8|2|incremental|sdw1|7002',
    ]);
    expect(status).toMatchObject({ done: true, recovered: [] });
    expect(status.failures).toEqual([
      {
        dbid: 8,
        type: 'incremental',
        reason:
          'pg_rewind failed: Failure, exiting (its log: sdw1:/home/gpadmin/gpAdminLogs/pg_rewind.20261202_133625.dbid8.out)',
        needsFull: true,
      },
    ]);
  });

  it('71 then 72: the other segments of a run with a failed incremental still come up', async () => {
    const [failed, full] = await Promise.all([
      readCapture('71_nodir_gprecoverseg_a_incremental_fails.txt'),
      readCapture('72_nodir_gprecoverseg_aF.txt'),
    ]);
    const status = parseOperationOutput(
      recovery,
      await pollOutput(recovery, {
        phases: [
          { phase: 'incremental', capture: failed },
          { phase: 'full', capture: full },
        ],
        plan: ['8|2|incremental|sdw1|7002', '7|1|full|sdw1|7002'],
      }),
    );
    // 72 rebuilt a segment at sdw1:7002; the plan names it dbid 7 so the phases stay apart.
    expect(status.recovered).toEqual([7]);
    expect(status.failures.map((f) => [f.dbid, f.needsFull])).toEqual([[8, true]]);
  });

  it('94_p_gprecoverseg_a_p_sdw3.txt: a segment that "Failed to start" is a failure, not recovered', async () => {
    const status = await pollCapture('94_p_gprecoverseg_a_p_sdw3.txt', ['7|1|full|sdw3|6000']);
    expect(status).toMatchObject({ done: true, recovered: [] });
    expect(status.failures).toEqual([
      {
        dbid: 7,
        type: 'full',
        reason:
          'failed to start after recovery; see the latest log in /data1/gpdb/sdw2/mirror/gpseg1 on sdw3',
        needsFull: false,
      },
    ]);
  });

  it('94_p_gprecoverseg_a_p_sdw3.txt in a 6.x relocate phase (plan line with its phase)', async () => {
    const status = await pollCapture(
      '94_p_gprecoverseg_a_p_sdw3.txt',
      ['7|1|full|sdw3|6000|relocate'],
      recovery,
      'relocate',
    );
    expect(status.failures.map((f) => f.dbid)).toEqual([7]);
  });

  it('50_gprecoverseg_a_nothing_down.txt: "No segments to recover" (exit 0) recovers nothing', async () => {
    const status = await pollCapture('50_gprecoverseg_a_nothing_down.txt', [
      '6|0|incremental|sdw2|7000',
    ]);
    expect(status.recovered).toEqual([]);
    expect(status.failures).toEqual([
      {
        dbid: 6,
        type: 'incremental',
        reason:
          'gprecoverseg said "No segments to recover": dbid 6 was not marked down when it looked, so this run did not recover it',
        needsFull: false,
      },
    ]);
  });

  it.each(['63_concurrent_second_gprecoverseg_a.txt', '63b_concurrent_second_gprecoverseg_o.txt'])(
    '%s: the Lockfile ERROR with exit 0 is GprecoversegLocked, naming the holder and the lock',
    async (name) => {
      const error = await parseError(pollCapture(name, ['7|1|full|sdw2|7001']));
      expect(error).toBeInstanceOf(GprecoversegLocked);
      expect(error).toMatchObject({
        holderPid: 22336,
        lockDirectory: '/data1/gpdb/master/gpseg-1/gprecoverseg.lock',
      });
      expect(error.message).toBe(
        '/data1/gpdb/master/gpseg-1/gprecoverseg.lock is held by gprecoverseg pid 22336: recoverseg waits while that process lives. ' +
          'Greenplum never checks whether it does: if pid 22336 is dead on the coordinator, remove the directory /data1/gpdb/master/gpseg-1/gprecoverseg.lock, then retry',
      );
    },
  );

  it('82_double_fault_gprecoverseg_a.txt: the CRITICAL exit 2 keeps every line, the segment named', async () => {
    const error = await parseError(
      pollCapture('82_double_fault_gprecoverseg_a.txt', ['5|3|incremental|sdw2|6003']),
    );
    expect(error).toBeInstanceOf(GprecoversegFailed);
    expect(error).toMatchObject({
      exitCode: 2,
      segments: [{ content: 3, address: '127.0.0.1', port: 7003 }],
    });
    expect((error as GprecoversegFailed).detail).toBe(
      "gprecoverseg failed. (Reason='error 'ERROR:  failed to acquire resources on one or more segments " +
        'DETAIL:  could not connect to server: Connection refused ' +
        'Is the server running on host "127.0.0.1" and accepting ' +
        'TCP/IP connections on port 7003? ' +
        '(seg3 127.0.0.1:7003) ' +
        "' in 'SET CLIENT_MIN_MESSAGES='ERROR''') exiting...",
    );
    expect(error.message).toMatch(/content 3 \(127\.0\.0\.1:7003\) did not answer/);
    expect(error.message).toMatch(/gpstop -a -M fast, gpstart -a, gprecoverseg -a/);
  });

  it('99a_gprecoverseg_help.txt: help text with exit 0 says nothing was recovered, so the poll fails', async () => {
    const error = await parseError(
      pollCapture('99a_gprecoverseg_help.txt', ['6|0|incremental|sdw2|7000']),
    );
    expect(error).toBeInstanceOf(GprecoversegFailed);
    expect(error.message).toMatch(/exited 0 without saying "Segments successfully recovered\."/);
  });

  it.each([
    ['40_gprecoverseg_ar_rebalance.txt', [8, 9]],
    ['87_double_fault_gprecoverseg_ar.txt', [9]],
  ])(
    '%s: a rebalance, its nested recovery rebuilding the demoted primaries',
    async (name, rebuilt) => {
      const status = await pollCapture(name, REBALANCE_PLAN, rebalance);
      expect(status).toEqual({
        operationId: rebalance.operationId,
        kind: 'rebalance',
        done: true,
        progress: [],
        recovered: rebuilt,
        failures: [],
        skipped: [],
      });
    },
  );
});

describe("the project's own adapter runs on that cluster (adapter-runs-2919f23.jsonl)", () => {
  it('c0f343cf (what="recoverseg: poll rebalance-manual-rebalance-orig-…"): 6.x has no --replay-lag', async () => {
    const run = await adapterRun('c0f343cf-ba56-48c4-b0ba-78922cb16b52');
    const handle: OperationHandle = {
      operationId: 'rebalance-manual-rebalance-orig-b7db72f8a948',
      kind: 'rebalance',
    };
    expect(() => parseOperationOutput(handle, run.decoded)).toThrow(GprecoversegFlagConflict);
    expect(() => parseOperationOutput(handle, run.decoded)).toThrow(
      'gprecoverseg refused its arguments: no such option: --replay-lag; fix the recovery plan or options',
    );
  });

  it('the refusal text of 2d779cfb, fed through pollScript, is refused the same way', async () => {
    const run = await adapterRun('2d779cfb-8015-4142-b59f-76cf22682414');
    const refusal = /^gprecoverseg: error: .*$/m.exec(run.decoded)![0];
    const capture: Capture = {
      name: run.id,
      command: 'gprecoverseg -a -r --replay-lag 10',
      body: `${refusal}\n`,
      exitStatus: 2,
    };
    const output = await pollOutput(rebalance, {
      phases: [{ phase: 'rebalance', capture }],
      plan: REBALANCE_PLAN,
    });
    expect(() => parseOperationOutput(rebalance, output)).toThrow(/no such option: --replay-lag/);
  });

  it('a4837b24 (poll recovery-…5c670484e): recovered, with the last progress per dbid', async () => {
    const run = await adapterRun('a4837b24-60da-4047-ac00-3f94faf9b74a');
    const status = parseOperationOutput(
      {
        operationId:
          'recovery-arn_aws_states_local_000000000000_execution_recoverseg_gp6local--5c670484e',
        kind: 'recovery',
      },
      run.decoded,
    );
    expect(status).toMatchObject({ done: true, recovered: [4, 5], failures: [] });
    expect(status.progress.map((p) => [p.dbid, p.percent])).toEqual([
      [4, 41],
      [5, 93],
    ]);
  });

  it('b103eb34 (poll recovery-…41e87fd51): the double fault CRITICAL is GprecoversegFailed, exit 2', async () => {
    const run = await adapterRun('b103eb34-07b0-4105-b006-d03ae9f9d2e3');
    const poll = () =>
      parseOperationOutput(
        {
          operationId:
            'recovery-arn_aws_states_local_000000000000_execution_recoverseg_gp6local--41e87fd51',
          kind: 'recovery',
        },
        run.decoded,
      );
    expect(poll).toThrow(GprecoversegFailed);
    expect(poll).toThrow(
      /^gprecoverseg exited 2: gprecoverseg failed\. \(Reason='error 'ERROR:  failed to acquire resources/,
    );
  });

  it.each([
    ['355c2caf-fa00-463a-8fce-33c4e05edbd1', { kind: 'started', pid: 8072 }],
    ['806b5df4-805b-4622-86c1-95fc32c07012', { kind: 'existing', pid: 8072 }],
  ])('%s: the start answer', async (id, outcome) => {
    const run = await adapterRun(id);
    expect(parseStartOutput('start', run.decoded)).toEqual(outcome);
  });
});

describe('bad poll answers', () => {
  const frame = (operation: string, plan = '', progress = '', messages = '', end = true) =>
    [
      '@@recoverseg:section operation@@',
      operation,
      '@@recoverseg:section plan@@',
      ...(plan ? [plan] : []),
      '@@recoverseg:section progress@@',
      ...(progress ? [progress] : []),
      '@@recoverseg:section messages@@',
      ...(messages ? [messages] : []),
      ...(end ? ['@@recoverseg:end@@'] : []),
    ].join('\n');

  it.each([
    ['a cut-off answer', frame('running', '', '', '', false), /ended without its end marker/],
    ['an unknown state', frame('sleeping'), /unknown operation state/],
    [
      'a bad plan line',
      frame('running', '4|2|incremental|sdw2'),
      /expected dbid\|content\|type\|host\|port/,
    ],
    [
      'a bad progress line',
      frame('running', '4|2|incremental|sdw2|6002', 'dbid 4 50%'),
      /expected "host \(dbid N\)/,
    ],
    [
      'output before any phase',
      frame('running', '', '', 'Segments successfully recovered.'),
      /before any phase/,
    ],
    [
      'a continuation of nothing',
      frame('running', '', '', '@@recoverseg:continued@@DETAIL: x'),
      /continuation of no message/,
    ],
    [
      'a phase exit twice',
      frame(
        'exit|0',
        '',
        '',
        '@@recoverseg:phase full@@\n@@recoverseg:phase-exit full 0@@\n@@recoverseg:phase-exit full 0@@',
      ),
      /phase exit without its phase/,
    ],
    [
      'a failure naming no planned segment',
      frame(
        'exit|1',
        '4|2|incremental|sdw2|6002',
        '',
        '@@recoverseg:phase incremental@@\n hostname: sdw9; port: 1; logfile: /x.out; recoverytype: incremental\n@@recoverseg:phase-exit incremental 1@@',
      ),
      /names no planned segment/,
    ],
  ])('refuses %s with MalformedOutput', (_, output, message) => {
    expect(() => parseOperationOutput(recovery, output)).toThrow(MalformedOutput);
    expect(() => parseOperationOutput(recovery, output)).toThrow(message);
  });

  it('reads progress through hostile terminal bytes and refuses a hostile progress line', () => {
    const plan = '7|1|full|sdw2|7001';
    const hostile = `\x1b[1A\x1b[Ksdw2 (dbid 7): 1/2 kB (50%)\x1b[K\r`;
    expect(parseOperationOutput(recovery, frame('running', plan, hostile)).progress).toEqual([
      { dbid: 7, type: 'full', completedKb: 1, totalKb: 2, percent: 50 },
    ]);
    const long = 'x'.repeat(100_000);
    const attempt = () => parseOperationOutput(recovery, frame('running', plan, `\x07${long}`));
    expect(attempt).toThrow(MalformedOutput);
    expect(attempt).toThrow(
      /^poll recovery-incident-0123456789ab: expected "host \(dbid N\): …" at output line 6: "\\u0007x{199}"; the output began "@@recoverseg:section operation@@"/,
    );
  });

  it('OperationNotFound and a vanished run', () => {
    expect(() => parseOperationOutput(recovery, frame('missing'))).toThrow(OperationNotFound);
    expect(() => parseOperationOutput(recovery, frame('vanished'))).toThrow(
      /stopped without recording an exit code/,
    );
  });

  it('refuses a finished recovery that says nothing about a planned segment', () => {
    const output = frame(
      'exit|0',
      '4|2|incremental|sdw2|6002\n6|0|full|sdw3|7000',
      '',
      '@@recoverseg:phase incremental@@\n20261202:13:28:46:012165 gprecoverseg:vm:gpadmin-[INFO]:-Segments successfully recovered.\n@@recoverseg:phase-exit incremental 0@@',
    );
    expect(() => parseOperationOutput(recovery, output)).toThrow(/without an outcome for dbid 6/);
  });

  it('a phase the runner refused fails its segments with the reason', () => {
    const output = frame(
      'exit|3',
      '7|1|full|sdw3|6000|relocate',
      '',
      '@@recoverseg:phase relocate@@\n@@recoverseg:refused relocate gprecoverseg would recover a, not the planned b@@\n@@recoverseg:phase-exit relocate 3@@',
    );
    expect(parseOperationOutput(recovery, output).failures).toEqual([
      {
        dbid: 7,
        type: 'full',
        reason:
          'recoverseg did not run gprecoverseg: gprecoverseg would recover a, not the planned b',
        needsFull: false,
      },
    ]);
  });

  it('refuses a start answer it does not understand', () => {
    expect(() =>
      parseStartOutput('start', '@@recoverseg:section start@@\nmaybe\n@@recoverseg:end@@'),
    ).toThrow(MalformedOutput);
    expect(() =>
      parseStartOutput('start', '@@recoverseg:section start@@\nlocked|22336\n@@recoverseg:end@@'),
    ).toThrow(GprecoversegLocked);
    expect(() =>
      parseStartOutput('start', '@@recoverseg:section start@@\nstale|x|/d\n@@recoverseg:end@@'),
    ).toThrow(MalformedOutput);
  });

  it('names the lock directory of a live holder, and of a lock no live process holds', () => {
    const start = (line: string) => () =>
      parseStartOutput('start', `@@recoverseg:section start@@\n${line}\n@@recoverseg:end@@`);
    expect(start('locked|22336|/data1/gpdb/master/gpseg-1/gprecoverseg.lock')).toThrow(
      /^\/data1\/gpdb\/master\/gpseg-1\/gprecoverseg.lock is held by gprecoverseg pid 22336: recoverseg waits while that process lives/,
    );
    expect(start('stale|22336|/data1/gpdb/master/gpseg-1/gprecoverseg.lock')).toThrow(
      StaleGprecoversegLock,
    );
    expect(start('stale||/data1/gpdb/master/gpseg-1/gprecoverseg.lock')).toThrow(
      /names no pid: gprecoverseg refuses to start while it exists/,
    );
  });
});
