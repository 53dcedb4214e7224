import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '#domain/errors.ts';
import type { PlanItem } from '#domain/events.ts';
import {
  coordinatorCommand,
  gprecoversegCommand,
  gprecoversegRebalanceCommand,
  operationIdFor,
  prepareRecovery,
  readConfigurationScript,
  validateHandle,
} from '#cluster/greenplum/commands.ts';
import { RecoveryPlanRejected } from '#cluster/greenplum/errors.ts';
import { splitSections } from '#cluster/greenplum/framing.ts';
import { parseSegmentRows } from '#cluster/greenplum/psql.ts';
import { shellQuote } from '#cluster/greenplum/shell.ts';
import { CoordinatorStub, SEED_HOST_DOWN_ROWS } from './coordinator-stub.ts';

const lines = (text: string) => text.split('\n').map((t, i) => ({ number: i + 1, text: t }));
const SEED_ROWS = parseSegmentRows('test', lines(SEED_HOST_DOWN_ROWS));

const HOSTILE = [
  ';rm -rf /',
  '$(touch PWNED)',
  '`touch PWNED`',
  "'; touch PWNED; '",
  '"; touch PWNED; "',
  'a\ntouch PWNED',
  '$HOME',
  '\\',
];

describe('shellQuote', () => {
  it.each(HOSTILE)('passes %j through bash as one literal word', async (value) => {
    const stub = await CoordinatorStub.create();
    try {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          'bash',
          ['-c', `printf '%s' ${shellQuote(value)}`],
          { cwd: stub.root },
          (e, stdout) => (e ? reject(e) : resolve(stdout)),
        ),
      );
      expect(out).toBe(value);
      expect(existsSync(join(stub.root, 'PWNED'))).toBe(false);
    } finally {
      await stub.dispose();
    }
  });

  it('refuses NUL, which no shell word can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(TypeError);
  });
});

describe('coordinatorCommand', () => {
  it('runs the script as gpadmin with greenplum_path.sh and both data directory variables', () => {
    const command = coordinatorCommand(
      { gphome: '/usr/lib/gpdb', coordinatorDataDirectory: '/data1/master/gpseg-1' },
      ['echo hi'],
    );
    expect(command.startsWith("sudo -u gpadmin -H bash -c 'set -eo pipefail\n")).toBe(true);
    expect(command).toContain("source '\\''/usr/lib/gpdb/greenplum_path.sh'\\''");
    expect(command).toContain("export COORDINATOR_DATA_DIRECTORY='\\''/data1/master/gpseg-1'\\''");
    expect(command).toContain('export MASTER_DATA_DIRECTORY="$COORDINATOR_DATA_DIRECTORY"');
    expect(command).toContain('recoverseg_main | gzip -c | base64 -w 0');
  });

  it.each([
    { gphome: '/usr/lib/gpdb;rm -rf /', coordinatorDataDirectory: '/data1/master/gpseg-1' },
    { gphome: '/usr/lib/gpdb', coordinatorDataDirectory: '/data1/$(id)' },
    { gphome: '/usr/lib/`id`', coordinatorDataDirectory: '/data1/master/gpseg-1' },
    { gphome: 'relative/path', coordinatorDataDirectory: '/data1/master/gpseg-1' },
    { gphome: '/usr/lib/../../etc', coordinatorDataDirectory: '/data1/master/gpseg-1' },
  ])('refuses a hostile environment %j', (env) => {
    expect(() => coordinatorCommand(env, [])).toThrow(ValidationError);
  });

  describe('in a real shell', () => {
    let stub: CoordinatorStub;
    beforeAll(async () => {
      stub = await CoordinatorStub.create();
      await stub.answerSql('segments', `${SEED_HOST_DOWN_ROWS}\n`);
      await stub.answerSql('double_faults', '');
    });
    afterAll(() => stub.dispose());

    it('sends the exact queries through psql and frames the answer', async () => {
      const output = await stub.output(
        coordinatorCommand(
          { gphome: stub.gphome, coordinatorDataDirectory: stub.coordinatorDataDirectory },
          readConfigurationScript(3600),
        ),
      );
      const sections = splitSections('test', output);
      expect(
        sections
          .get('segments')
          ?.map((l) => l.text)
          .join('\n'),
      ).toBe(SEED_HOST_DOWN_ROWS);
      expect(sections.get('double_faults')).toEqual([]);
      expect(await stub.sqlCalls()).toEqual([
        'SELECT dbid, content, role, preferred_role, mode, status, port, hostname, address, datadir FROM gp_segment_configuration ORDER BY content, role, dbid',
        `SELECT DISTINCT substring("desc" from 'content id ([0-9]+)')::int FROM gp_configuration_history WHERE "desc" LIKE 'FTS: double fault detected for content id %' AND "time" > now() - interval '3600 seconds' ORDER BY 1`,
      ]);
      expect(await stub.calls('sudo')).toEqual(['-u gpadmin -H']);
    });
  });
});

describe('operationIdFor', () => {
  it('is the same for the same key and differs between keys and kinds', () => {
    const a = operationIdFor(
      'recovery',
      'arn:aws:states:eu-west-1:123:execution:recover:incident-7/Recover',
    );
    expect(a).toBe(
      operationIdFor(
        'recovery',
        'arn:aws:states:eu-west-1:123:execution:recover:incident-7/Recover',
      ),
    );
    expect(a).not.toBe(operationIdFor('recovery', 'incident-8'));
    expect(operationIdFor('rebalance', 'k')).not.toBe(operationIdFor('recovery', 'k'));
    expect(a).toMatch(/^recovery-[A-Za-z0-9._-]+-[0-9a-f]{12}$/);
  });

  it.each(HOSTILE)('makes a file-safe id from the hostile key %j', (key) => {
    const id = operationIdFor('recovery', key);
    expect(id).toMatch(/^recovery-[A-Za-z0-9._-]{1,64}-[0-9a-f]{12}$/);
    expect(validateHandle({ operationId: id, kind: 'recovery' }).operationId).toBe(id);
  });

  it('refuses handles it did not make', () => {
    const id = operationIdFor('recovery', 'k');
    expect(() => validateHandle({ operationId: id, kind: 'rebalance' })).toThrow(ValidationError);
    expect(() =>
      validateHandle({ operationId: 'recovery-x;rm -rf /-0123456789ab', kind: 'recovery' }),
    ).toThrow(ValidationError);
    expect(() => validateHandle({ operationId: '../../etc/passwd', kind: 'recovery' })).toThrow(
      ValidationError,
    );
  });
});

const incremental = (dbid: number, content: number, sourceDbid: number): PlanItem => ({
  dbid,
  content,
  sourceDbid,
  type: 'incremental',
});

describe('prepareRecovery', () => {
  it('recovers the seed host in place: one incremental -i file, failed locations from the catalog', () => {
    const prepared = prepareRecovery(
      [incremental(6, 0, 2), incremental(7, 1, 3), incremental(4, 2, 8), incremental(5, 3, 9)],
      SEED_ROWS,
    );
    expect(prepared.phases).toEqual([
      {
        type: 'incremental',
        configLines: [
          'segment-2|10500|/data1/mirror/gpseg0',
          'segment-2|10501|/data1/mirror/gpseg1',
          'segment-2|10000|/data1/primary/gpseg2',
          'segment-2|10001|/data1/primary/gpseg3',
        ],
      },
    ]);
    expect(prepared.planLines).toEqual([
      '6|0|incremental|segment-2|10500',
      '7|1|incremental|segment-2|10501',
      '4|2|incremental|segment-2|10000',
      '5|3|incremental|segment-2|10001',
    ]);
  });

  it('runs each type separately, incremental first, and writes a relocation as two groups', () => {
    const prepared = prepareRecovery(
      [
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
        { dbid: 7, content: 1, sourceDbid: 3, type: 'differential' },
        incremental(4, 2, 8),
      ],
      SEED_ROWS,
    );
    expect(prepared.phases).toEqual([
      { type: 'incremental', configLines: ['segment-2|10000|/data1/primary/gpseg2'] },
      { type: 'differential', configLines: ['segment-2|10501|/data1/mirror/gpseg1'] },
      {
        type: 'full',
        configLines: ['segment-2|10500|/data1/mirror/gpseg0 segment-3|10500|/data1/mirror/gpseg0'],
      },
    ]);
    expect(prepared.planLines[0]).toBe('6|0|full|segment-3|10500');
  });

  const target = (patch: Record<string, unknown>) => ({
    dbid: 6,
    content: 0,
    sourceDbid: 2,
    type: 'full',
    target: {
      hostname: 'segment-3',
      address: 'segment-3',
      port: 10500,
      datadir: '/data1/mirror/gpseg0',
      ...patch,
    },
  });

  it.each([
    ['hostname with ;', target({ hostname: 'segment-3;rm -rf /' })],
    ['address with $()', target({ address: '$(id)' })],
    ['datadir with backticks', target({ datadir: '/data1/`id`' })],
    ['datadir with a quote', target({ datadir: "/data1/x'y" })],
    ['datadir with a newline', target({ datadir: '/data1/x\n/y' })],
    ['datadir with ..', target({ datadir: '/data1/../../etc' })],
    ['port as a string', target({ port: '10500; id' })],
    ['dbid as a string', { ...incremental(4, 2, 8), dbid: '4; drop table t' }],
    ['an unknown field', { ...incremental(4, 2, 8), extra: '$(id)' }],
  ])('refuses a plan item with %s before anything runs', (_, item) => {
    expect(() => prepareRecovery([item as PlanItem], SEED_ROWS)).toThrow(ValidationError);
  });

  it.each([
    [
      'a dbid not in the catalog',
      [incremental(99, 0, 2)],
      /dbid 99 is not in gp_segment_configuration/,
    ],
    ['a content that does not match', [incremental(6, 1, 2)], /dbid 6 is content 0, not content 1/],
    ['the coordinator', [incremental(1, -1, 10)], /only segments can be recovered/],
    ['the same dbid twice', [incremental(6, 0, 2), incremental(6, 0, 2)], /planned twice/],
    [
      'a relocation that is not full',
      [
        {
          ...incremental(6, 0, 2),
          target: { hostname: 'segment-3', address: 'segment-3', port: 1, datadir: '/d' },
        },
      ],
      /always a full recovery, not incremental/,
    ],
  ])('rejects %s', (_, plan, message) => {
    expect(() => prepareRecovery(plan as PlanItem[], SEED_ROWS)).toThrow(RecoveryPlanRejected);
    expect(() => prepareRecovery(plan as PlanItem[], SEED_ROWS)).toThrow(message);
  });

  it('rejects an empty plan', () => {
    expect(() => prepareRecovery([], SEED_ROWS)).toThrow(ValidationError);
  });
});

describe('gprecoversegCommand', () => {
  it('builds the flags per recovery type', () => {
    expect(gprecoversegCommand({ type: 'incremental', configFileExpression: '"$F"' })).toBe(
      'gprecoverseg -a -i "$F"',
    );
    expect(gprecoversegCommand({ type: 'differential', configFileExpression: '"$F"' })).toBe(
      'gprecoverseg -a --differential -i "$F"',
    );
    expect(gprecoversegCommand({ type: 'full', configFileExpression: '"$F"' })).toBe(
      'gprecoverseg -a -F -i "$F"',
    );
    expect(gprecoversegCommand({ type: 'full', newHosts: ['segment-3', 'segment-4'] })).toBe(
      "gprecoverseg -a -F -p 'segment-3,segment-4'",
    );
  });

  it('refuses what gprecoverseg refuses, and hostile hosts', () => {
    expect(() => gprecoversegCommand({ type: 'differential', newHosts: ['segment-3'] })).toThrow(
      'Only one of -p, -r and --differential may be specified',
    );
    expect(() =>
      gprecoversegCommand({ type: 'full', newHosts: ['segment-3'], configFileExpression: 'f' }),
    ).toThrow(RecoveryPlanRejected);
    expect(() => gprecoversegCommand({ type: 'full', newHosts: ['segment-3;id'] })).toThrow();
  });

  it('rebalances with a validated replay lag', () => {
    expect(gprecoversegRebalanceCommand(10)).toBe("gprecoverseg -a -r --replay-lag '10'");
    expect(gprecoversegRebalanceCommand(0.5)).toBe("gprecoverseg -a -r --replay-lag '0.5'");
    for (const bad of [
      0,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10_001,
      '10; id' as unknown as number,
    ])
      expect(() => gprecoversegRebalanceCommand(bad)).toThrow();
  });
});
