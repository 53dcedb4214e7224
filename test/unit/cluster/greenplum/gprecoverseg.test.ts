import { pollScript } from '#cluster/greenplum/poll.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlanItem } from '#domain/events.ts';
import type { OperationHandle } from '#cluster/port.ts';
import {
  coordinatorCommand,
  operationIdFor,
  prepareRecovery,
  startRebalanceScript,
  startRecoveryScript,
} from '#cluster/greenplum/commands.ts';
import {
  GprecoversegFailed,
  GprecoversegFlagConflict,
  GprecoversegLocked,
  MalformedOutput,
  OperationNotFound,
  RebalanceReplayLagExceeded,
} from '#cluster/greenplum/errors.ts';
import { parseOperationOutput, parseStartOutput } from '#cluster/greenplum/gprecoverseg.ts';
import { parseSegmentRows } from '#cluster/greenplum/psql.ts';
import { CoordinatorStub, readFixture, SEED_HOST_DOWN_ROWS } from './coordinator-stub.ts';

const SEED = parseSegmentRows(
  'psql',
  SEED_HOST_DOWN_ROWS.split('\n').map((text, i) => ({ number: i + 1, text })),
);

const inPlace = (type: PlanItem['type']): PlanItem[] => [
  { dbid: 6, content: 0, sourceDbid: 2, type },
  { dbid: 7, content: 1, sourceDbid: 3, type },
  { dbid: 4, content: 2, sourceDbid: 8, type },
  { dbid: 5, content: 3, sourceDbid: 9, type },
];

let stub: CoordinatorStub;
beforeEach(async () => {
  stub = await CoordinatorStub.create();
});
afterEach(() => stub.dispose());

const env = () => ({
  gphome: stub.gphome,
  coordinatorDataDirectory: stub.coordinatorDataDirectory,
});

async function startRecovery(plan: PlanItem[], key = 'incident-1') {
  const handle: OperationHandle = {
    operationId: operationIdFor('recovery', key),
    kind: 'recovery',
  };
  const output = await stub.output(
    coordinatorCommand(env(), startRecoveryScript(handle.operationId, prepareRecovery(plan, SEED))),
  );
  return { handle, outcome: parseStartOutput('start', output) };
}

async function startRebalance(key = 'incident-1') {
  const handle: OperationHandle = {
    operationId: operationIdFor('rebalance', key),
    kind: 'rebalance',
  };
  const output = await stub.output(
    coordinatorCommand(env(), startRebalanceScript(handle.operationId, 10)),
  );
  return { handle, outcome: parseStartOutput('start', output) };
}

async function poll(handle: OperationHandle) {
  return parseOperationOutput(
    handle,
    await stub.output(coordinatorCommand(env(), pollScript(handle))),
  );
}

async function finished(handle: OperationHandle) {
  await stub.waitForExit(handle.operationId);
  return poll(handle);
}

describe('incremental recovery of the seed host', () => {
  it('starts gprecoverseg in the background with the -i file and reports every segment recovered', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-incremental-success.log'), 0);
    const { handle, outcome } = await startRecovery(inPlace('incremental'));
    expect(outcome.kind).toBe('started');
    const status = await finished(handle);

    const conf = `${stub.home}/gpAdminLogs/recoverseg/${handle.operationId}.incremental.conf`;
    expect(await stub.calls('gprecoverseg')).toEqual([`-a -i ${conf}`]);
    expect(await stub.stateFile(handle.operationId, 'incremental.conf')).toBe(
      [
        'segment-2|10500|/data1/mirror/gpseg0',
        'segment-2|10501|/data1/mirror/gpseg1',
        'segment-2|10000|/data1/primary/gpseg2',
        'segment-2|10001|/data1/primary/gpseg3',
        '',
      ].join('\n'),
    );
    expect(status).toEqual({
      operationId: handle.operationId,
      kind: 'recovery',
      done: true,
      progress: [
        { dbid: 4, type: 'incremental', completedKb: 685857, totalKb: 1371715, percent: 50 },
        { dbid: 5, type: 'incremental', completedKb: 1164848, totalKb: 1371875, percent: 84 },
        { dbid: 6, type: 'incremental', completedKb: 1371715, totalKb: 1371715, percent: 100 },
        { dbid: 7, type: 'incremental', completedKb: 20480, totalKb: 1371875, percent: 1 },
      ],
      recovered: [4, 5, 6, 7],
      failures: [],
      skipped: [],
    });
  });

  it('finds the first run when the start is retried with the same operation key', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-incremental-success.log'), 0);
    const first = await startRecovery(inPlace('incremental'));
    await stub.waitForExit(first.handle.operationId);
    const retry = await startRecovery(inPlace('incremental'));
    expect(retry.handle).toEqual(first.handle);
    expect(retry.outcome).toEqual({ kind: 'existing', pid: first.outcome.pid });
    expect(await stub.calls('gprecoverseg')).toHaveLength(1);
  });

  it('reports progress and not done while gprecoverseg is still running', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-incremental-success.log'), 0);
    await stub.hold();
    const { handle } = await startRecovery(inPlace('incremental'));
    let status = await poll(handle);
    for (let i = 0; i < 100 && status.progress.length < 4; i++) status = await poll(handle);
    expect(status.done).toBe(false);
    expect(status.recovered).toEqual([]);
    expect(status.progress.map((p) => p.percent)).toEqual([50, 84, 100, 1]);
    await stub.release();
    expect((await finished(handle)).recovered).toEqual([4, 5, 6, 7]);
  });

  it('reports the segment pg_rewind could not rewind as needing a full recovery; the others come up', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-incremental-failed.log'), 1);
    const { handle } = await startRecovery(inPlace('incremental'));
    const status = await finished(handle);
    expect(status.recovered).toEqual([5, 6, 7]);
    expect(status.failures).toEqual([
      {
        dbid: 4,
        type: 'incremental',
        reason: 'pg_rewind: fatal: could not find previous WAL record at 0/C000028',
        needsFull: true,
      },
    ]);
  });

  it('reports segments on a host gprecoverseg could not reach', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-host-unreachable.log'), 0);
    const { handle } = await startRecovery(inPlace('incremental'));
    const status = await finished(handle);
    expect(status.recovered).toEqual([]);
    expect(status.failures.map((f) => [f.dbid, f.needsFull, f.reason])).toEqual([
      [4, false, 'host segment-2 is unreachable; gprecoverseg skipped dbid 4'],
      [5, false, 'host segment-2 is unreachable; gprecoverseg skipped dbid 5'],
      [6, false, 'host segment-2 is unreachable; gprecoverseg skipped dbid 6'],
      [7, false, 'host segment-2 is unreachable; gprecoverseg skipped dbid 7'],
    ]);
  });
});

describe('a plan with several recovery types', () => {
  it('runs incremental then full, each with its own -i file, and attributes a start failure', async () => {
    const plan: PlanItem[] = [
      ...inPlace('incremental').filter((item) => item.dbid !== 6),
      {
        dbid: 6,
        content: 0,
        sourceDbid: 2,
        type: 'full',
        target: {
          hostname: 'segment-3',
          address: 'segment-3',
          port: 10500,
          datadir: '/data1/mirror/gpseg0',
        },
      },
    ];
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-incremental-success.log'), 0);
    await stub.gprecovesegRun(2, await readFixture('gprecoverseg-full-start-failed.log'), 1);
    const { handle } = await startRecovery(plan);
    const status = await finished(handle);

    const base = `${stub.home}/gpAdminLogs/recoverseg/${handle.operationId}`;
    expect(await stub.calls('gprecoverseg')).toEqual([
      `-a -i ${base}.incremental.conf`,
      `-a -F -i ${base}.full.conf`,
    ]);
    expect(await stub.stateFile(handle.operationId, 'full.conf')).toBe(
      'segment-2|10500|/data1/mirror/gpseg0 segment-3|10500|/data1/mirror/gpseg0\n',
    );
    expect(status.recovered).toEqual([4, 5, 7]);
    expect(status.failures).toHaveLength(1);
    expect(status.failures[0]).toMatchObject({ dbid: 6, type: 'full', needsFull: false });
    expect(status.failures[0]!.reason).toMatch(
      /^segment failed to start after recovery: .*could not bind IPv4 address/,
    );
    expect(status.progress).toContainEqual({
      dbid: 6,
      type: 'full',
      completedKb: 1164848,
      totalKb: 1371715,
      percent: 84,
    });
  });
});

describe('gprecoverseg refusals', () => {
  it('maps an argument refusal to GprecoversegFlagConflict', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-flag-conflict.log'), 2);
    const { handle } = await startRecovery(inPlace('incremental'));
    await stub.waitForExit(handle.operationId);
    await expect(poll(handle)).rejects.toThrow(GprecoversegFlagConflict);
    await expect(poll(handle)).rejects.toThrow(
      /Only one of -p, -r and --differential may be specified/,
    );
  });

  it('maps a held gprecoverseg.lock found by gprecoverseg itself to GprecoversegLocked', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-locked.log'), 1);
    const { handle } = await startRecovery(inPlace('incremental'));
    await stub.waitForExit(handle.operationId);
    await expect(poll(handle)).rejects.toMatchObject({
      name: 'GprecoversegLocked',
      holderPid: 201877,
    });
  });

  it('does not start, and claims nothing, while a live process holds gprecoverseg.lock', async () => {
    const lock = join(stub.coordinatorDataDirectory, 'gprecoverseg.lock');
    await mkdir(lock);
    await writeFile(join(lock, 'PID'), `${process.pid}\n`);
    await expect(startRecovery(inPlace('incremental'))).rejects.toThrow(GprecoversegLocked);
    await expect(startRecovery(inPlace('incremental'))).rejects.toThrow(`pid ${process.pid}`);
    expect(await stub.calls('gprecoverseg')).toEqual([]);
    await expect(stub.stateFile(operationIdFor('recovery', 'incident-1'), 'pid')).rejects.toThrow();
  });

  it('starts when the lock holder is gone', async () => {
    const lock = join(stub.coordinatorDataDirectory, 'gprecoverseg.lock');
    await mkdir(lock);
    await writeFile(join(lock, 'PID'), '2147483646\n');
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-incremental-success.log'), 0);
    const { handle, outcome } = await startRecovery(inPlace('incremental'));
    expect(outcome.kind).toBe('started');
    expect(await stub.waitForExit(handle.operationId)).toBe('0');
  });
});

describe('rebalance', () => {
  const PLAN_ROWS = [
    '2|0|incremental|segment-1|10000',
    '3|1|incremental|segment-1|10001',
    '4|2|incremental|segment-2|10000',
    '5|3|incremental|segment-2|10001',
    '6|0|incremental|segment-2|10500',
    '7|1|incremental|segment-2|10501',
    '8|2|incremental|segment-1|10500',
    '9|3|incremental|segment-1|10501',
  ].join('\n');

  beforeEach(() => stub.answerSql('plan', `${PLAN_ROWS}\n`));

  it('runs gprecoverseg -ar with the replay lag and reports nothing to do', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-rebalance-nothing.log'), 0);
    const { handle } = await startRebalance();
    const status = await finished(handle);
    expect(await stub.calls('gprecoverseg')).toEqual(['-a -r --replay-lag 10']);
    expect(status).toMatchObject({
      kind: 'rebalance',
      done: true,
      recovered: [],
      failures: [],
      skipped: [],
    });
  });

  it('reports a skipped pair by content and the demoted primary it recovered', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-rebalance-skip.log'), 0);
    const { handle } = await startRebalance();
    const status = await finished(handle);
    expect(status.skipped).toEqual([
      { content: 2, reason: 'one is either down, unreachable, or not synchronized' },
    ]);
    expect(status.recovered).toEqual([9]);
  });

  it('maps the replay lag refusal to RebalanceReplayLagExceeded', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-rebalance-replay-lag.log'), 1);
    const { handle } = await startRebalance();
    await stub.waitForExit(handle.operationId);
    await expect(poll(handle)).rejects.toThrow(RebalanceReplayLagExceeded);
    await expect(poll(handle)).rejects.toMatchObject({ dbid: 8, replayLagBytes: 12884901888 });
  });

  it('fails loudly when gprecoverseg -r fails without naming a segment', async () => {
    await stub.gprecovesegRun(1, 'Traceback (most recent call last):\n', 1);
    const { handle } = await startRebalance();
    await stub.waitForExit(handle.operationId);
    await expect(poll(handle)).rejects.toThrow(GprecoversegFailed);
  });
});

describe('operations that went missing', () => {
  it('OperationNotFound for an operation never started', async () => {
    const handle: OperationHandle = {
      operationId: operationIdFor('recovery', 'never'),
      kind: 'recovery',
    };
    await expect(poll(handle)).rejects.toThrow(OperationNotFound);
  });

  it('GprecoversegFailed for a run that died without an exit code', async () => {
    const handle: OperationHandle = {
      operationId: operationIdFor('recovery', 'killed'),
      kind: 'recovery',
    };
    await mkdir(join(stub.home, 'gpAdminLogs', 'recoverseg'), { recursive: true });
    await writeFile(
      join(stub.home, 'gpAdminLogs', 'recoverseg', `${handle.operationId}.pid`),
      '2147483646\n',
    );
    await expect(poll(handle)).rejects.toThrow(/stopped without recording an exit code/);
  });
});

describe('malformed answers', () => {
  const handle: OperationHandle = {
    operationId: operationIdFor('recovery', 'k'),
    kind: 'recovery',
  };
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
      frame('running', '4|2|incremental|segment-2'),
      /expected dbid\|content\|type\|host\|port/,
    ],
    [
      'a bad progress line',
      frame('running', '4|2|incremental|segment-2|10000', 'dbid 4 50%'),
      /expected "host \(dbid N\)/,
    ],
    [
      'output before any phase',
      frame('running', '', '', 'Segments successfully recovered.'),
      /before any phase/,
    ],
    [
      'a failure naming no planned segment',
      frame(
        'exit|1',
        '4|2|incremental|segment-2|10000',
        '',
        '@@recoverseg:phase incremental@@\n hostname: segment-9; port: 1; logfile: /x.out; recoverytype: incremental\n@@recoverseg:phase-exit incremental 1@@',
      ),
      /names no planned segment/,
    ],
  ])('refuses %s', (_, output, message) => {
    expect(() => parseOperationOutput(handle, output)).toThrow(MalformedOutput);
    expect(() => parseOperationOutput(handle, output)).toThrow(message);
  });

  it('refuses a finished recovery that says nothing about a planned segment', () => {
    const output = frame(
      'exit|0',
      '4|2|incremental|segment-2|10000\n6|0|full|segment-3|10500',
      '',
      '@@recoverseg:phase incremental@@\n@@recoverseg:phase-exit incremental 0@@',
    );
    expect(() => parseOperationOutput(handle, output)).toThrow(/without an outcome for dbid 6/);
  });

  it('refuses a start answer it does not understand', () => {
    expect(() =>
      parseStartOutput('start', '@@recoverseg:section start@@\nmaybe\n@@recoverseg:end@@'),
    ).toThrow(MalformedOutput);
  });
});
