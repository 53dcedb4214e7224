import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '#domain/errors.ts';
import type { PlanItem } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import {
  coordinatorScript,
  DEFAULT_SETTINGS,
  gprecoversegCommand,
  gprecoversegRebalanceCommand,
  operationIdFor,
  prepareRecovery,
  startRebalanceScript,
  validateHandle,
} from '#cluster/greenplum/commands.ts';
import { MalformedOutput, RecoveryPlanRejected } from '#cluster/greenplum/errors.ts';
import { parseSegmentRows } from '#cluster/greenplum/psql.ts';
import { shellQuote } from '#cluster/greenplum/shell.ts';
import {
  NotSupportedByVersion,
  UnsupportedGreenplumVersion,
} from '#cluster/greenplum/version-errors.ts';
import {
  CLOUDBERRY_2,
  GREENPLUM_6,
  GREENPLUM_7,
  parseGpVersion,
  type ClusterVersion,
} from '#cluster/greenplum/versions.ts';
import { adapterRuns, readCapture, sectionText } from './captures.ts';
import { CoordinatorStub } from './coordinator-stub.ts';

const lines = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((t, i) => ({ number: i + 1, text: t }));

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

let gp6: ClusterVersion;
const gp7: ClusterVersion = { display: '7.1.0', text: '', family: GREENPLUM_7 };
const cloudberry: ClusterVersion = { display: 'Cloudberry 2.0.0', text: '', family: CLOUDBERRY_2 };
/** adapter-runs #24: the real catalog after sdw2 died and FTS marked all four of its segments down. */
let hostDown: SegmentRow[];

beforeAll(async () => {
  const capture = await readCapture('01a_postgres_gp_version.txt');
  gp6 = parseGpVersion('postgres --gp-version', lines(capture.body));
  const runs = await adapterRuns();
  hostDown = parseSegmentRows(
    'adapter-runs #24',
    lines(sectionText(runs[24]!.decoded, 'segments')),
  );
});

describe('parseGpVersion', () => {
  it('reads Greenplum 6.24.3 from postgres --gp-version (01a_postgres_gp_version.txt)', () => {
    expect(gp6.display).toBe('6.24.3');
    expect(gp6.family).toBe(GREENPLUM_6);
    expect(gp6.text).toBe(
      'postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213',
    );
  });

  // No capture of 7.x or Cloudberry: the forms their main.c prints.
  it.each([
    [
      'postgres (Greenplum Database) 7.1.0 build commit:e7c2b1f14bb42a1018ac57d14f4436880e0a0515',
      GREENPLUM_7,
      '7.1.0',
    ],
    ['postgres (Apache Cloudberry) 2.0.0-incubating build 1', CLOUDBERRY_2, 'Cloudberry 2.0.0'],
  ])('reads %s', (text, family, display) => {
    expect(parseGpVersion('v', lines(text))).toMatchObject({ family, display });
  });

  it.each([
    'postgres (Greenplum Database) 5.28.0 build commit:1',
    'postgres (Apache Cloudberry) 1.6.0 build 1',
    'postgres (PostgreSQL) 12.12',
  ])('refuses %s with its version string', (text) => {
    expect(() => parseGpVersion('v', lines(text))).toThrow(UnsupportedGreenplumVersion);
    expect(() => parseGpVersion('v', lines(text))).toThrow(text);
  });

  it('refuses an answer that is not one line', () => {
    expect(() => parseGpVersion('v', [])).toThrow(MalformedOutput);
  });
});

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

describe('coordinatorScript', () => {
  it('on 6.x: greenplum_path.sh, MASTER_DATA_DIRECTORY, PGPORT, and a check of the user', () => {
    const script = coordinatorScript(DEFAULT_SETTINGS, gp6, ['echo hi'], 'plain');
    expect(script).toContain("source '/usr/lib/gpdb/greenplum_path.sh'");
    expect(script).toContain('export MASTER_DATA_DIRECTORY="$coordinator_data_directory"');
    expect(script).not.toContain('COORDINATOR_DATA_DIRECTORY');
    expect(script).toContain("export PGPORT='5432'");
    expect(script).toContain(`if [ "$(id -un)" != 'gpadmin' ]; then`);
    expect(script).toContain('recoverseg_main >&3');
  });

  it('on Cloudberry: cloudberry-env.sh and COORDINATOR_DATA_DIRECTORY; gzip+base64 for SSM', () => {
    const script = coordinatorScript(DEFAULT_SETTINGS, cloudberry, [], 'gzip-base64');
    expect(script).toContain("source '/usr/lib/gpdb/cloudberry-env.sh'");
    expect(script).toContain('export COORDINATOR_DATA_DIRECTORY="$coordinator_data_directory"');
    expect(script).toContain('recoverseg_main | gzip -c | base64 -w 0 >&3');
  });

  it('before the version is known, sources whichever environment script is installed', () => {
    const script = coordinatorScript(DEFAULT_SETTINGS, undefined, [], 'plain');
    expect(script).toContain(
      "for script in '/usr/lib/gpdb/cloudberry-env.sh' '/usr/lib/gpdb/greenplum_path.sh'; do",
    );
    expect(script).not.toContain('DATA_DIRECTORY=');
  });

  it.each([
    ['gphome', { gphome: '/usr/lib/gpdb;rm -rf /' }],
    ['coordinatorDataDirectory', { coordinatorDataDirectory: '/data1/$(id)' }],
    ['gphome', { gphome: '/usr/lib/`id`' }],
    ['gphome', { gphome: 'relative/path' }],
    ['gphome', { gphome: '/usr/lib/../../etc' }],
    ['adminUser', { adminUser: "gpadmin'; id; '" }],
    ['adminUser', { adminUser: 'gpadmin\nroot' }],
    ['adminUser', { adminUser: 'a'.repeat(33) }],
    ['port', { port: 0 }],
    ['port', { port: '5432; id' as unknown as number }],
    ['coordinatorDataDirectory', { coordinatorDataDirectory: `/${'d'.repeat(2000)}` }],
  ])('refuses a hostile %s before building anything', (name, patch) => {
    const build = () => coordinatorScript({ ...DEFAULT_SETTINGS, ...patch }, gp6, [], 'plain');
    expect(build).toThrow(ValidationError);
    expect(build).toThrow(new RegExp(`^${name}: `));
  });
});

describe('operationIdFor', () => {
  it('is the same for the same key and differs between keys and kinds', () => {
    const key = 'arn:aws:states:eu-west-1:123:execution:recover:incident-7/Recover';
    const a = operationIdFor('recovery', key);
    expect(a).toBe(operationIdFor('recovery', key));
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
  });
});

const item = (dbid: number, content: number, sourceDbid: number, type: PlanItem['type']) =>
  ({ dbid, content, sourceDbid, type }) as PlanItem;
const toSdw3 = (row: SegmentRow): PlanItem => ({
  dbid: row.dbid,
  content: row.content,
  sourceDbid: 0,
  type: 'full',
  target: { hostname: 'sdw3', address: 'sdw3', port: row.port, datadir: row.datadir },
});
const sdw2 = () => hostDown.filter((row) => row.hostname === 'sdw2');
const relocateSdw2 = () =>
  sdw2().map((row) => ({
    ...toSdw3(row),
    sourceDbid: hostDown.find((r) => r.content === row.content && r.dbid !== row.dbid)!.dbid,
  }));

describe('prepareRecovery', () => {
  it('recovers sdw2 in place: one incremental -i file from the real catalog', () => {
    const prepared = prepareRecovery(
      [
        item(6, 0, 2, 'incremental'),
        item(7, 1, 3, 'incremental'),
        item(4, 2, 8, 'incremental'),
        item(5, 3, 9, 'incremental'),
      ],
      hostDown,
      gp6,
    );
    expect(prepared.phases).toEqual([
      {
        name: 'incremental',
        type: 'incremental',
        config: [
          'sdw2|7000|/data1/gpdb/sdw2/mirror/gpseg0',
          'sdw2|7001|/data1/gpdb/sdw2/mirror/gpseg1',
          'sdw2|6002|/data1/gpdb/sdw2/primary/gpseg2',
          'sdw2|6003|/data1/gpdb/sdw2/primary/gpseg3',
        ],
      },
    ]);
    expect(prepared.planLines).toEqual([
      '6|0|incremental|sdw2|7000',
      '7|1|incremental|sdw2|7001',
      '4|2|incremental|sdw2|6002',
      '5|3|incremental|sdw2|6003',
    ]);
  });

  it('on 6.x relocates a replaced host with -p (its -i relocation skips an unreachable old host)', () => {
    const prepared = prepareRecovery(relocateSdw2(), hostDown, gp6);
    expect(prepared.phases).toEqual([
      {
        name: 'relocate',
        type: 'full',
        everyDown: {
          failedLines: [
            'sdw2|7000|/data1/gpdb/sdw2/mirror/gpseg0',
            'sdw2|7001|/data1/gpdb/sdw2/mirror/gpseg1',
            'sdw2|6002|/data1/gpdb/sdw2/primary/gpseg2',
            'sdw2|6003|/data1/gpdb/sdw2/primary/gpseg3',
          ],
          dbids: [6, 7, 4, 5],
          newHosts: ['sdw3'],
        },
      },
    ]);
    // The port is gprecoverseg's to choose; the plan line says which phase rewrites it.
    expect(prepared.planLines[0]).toBe('6|0|full|sdw3|7000|relocate');
  });

  it('on 7.x relocates with a two-group -i line', () => {
    const prepared = prepareRecovery(relocateSdw2(), hostDown, gp7);
    expect(prepared.phases).toEqual([
      expect.objectContaining({
        name: 'full',
        config: expect.arrayContaining([
          'sdw2|7000|/data1/gpdb/sdw2/mirror/gpseg0 sdw3|7000|/data1/gpdb/sdw2/mirror/gpseg0',
        ]) as unknown,
      }),
    ]);
    expect(prepared.planLines[0]).toBe('6|0|full|sdw3|7000');
  });

  it('on 6.x refuses to move only part of a failed host: -p moves every down segment there', () => {
    expect(() => prepareRecovery(relocateSdw2().slice(1), hostDown, gp6)).toThrow(
      /dbid 6 is down there but not in the plan/,
    );
  });

  it('on 6.x refuses a new data directory: -p keeps it', () => {
    const plan = relocateSdw2().map((p) => ({
      ...p,
      target: { ...p.target!, datadir: '/data9/x' },
    }));
    expect(() => prepareRecovery(plan, hostDown, gp6)).toThrow(NotSupportedByVersion);
  });

  it('refuses differential recovery on 6.x, naming the version, before anything runs', () => {
    expect(() => prepareRecovery([item(6, 0, 2, 'differential')], hostDown, gp6)).toThrow(
      'differential recovery needs Greenplum 7 or Cloudberry; this cluster runs 6.24.3',
    );
  });

  it('on 7.x runs differential last, without -i, and only if the preview lists just its segments', () => {
    const prepared = prepareRecovery(
      [item(6, 0, 2, 'differential'), item(7, 1, 3, 'incremental')],
      hostDown,
      gp7,
    );
    expect(prepared.phases.map((phase) => phase.name)).toEqual(['incremental', 'differential']);
  });

  it.each([
    [
      'a dbid not in the catalog',
      [item(99, 0, 2, 'incremental')],
      /dbid 99 is not in gp_segment_configuration/,
    ],
    [
      'a content that does not match',
      [item(6, 1, 2, 'incremental')],
      /dbid 6 is content 0, not content 1/,
    ],
    ['the coordinator', [item(1, -1, 10, 'incremental')], /only segments can be recovered/],
    [
      'the same dbid twice',
      [item(6, 0, 2, 'incremental'), item(6, 0, 2, 'incremental')],
      /planned twice/,
    ],
  ])('rejects %s', (_, plan, message) => {
    expect(() => prepareRecovery(plan, hostDown, gp6)).toThrow(RecoveryPlanRejected);
    expect(() => prepareRecovery(plan, hostDown, gp6)).toThrow(message);
  });

  it.each([
    ['hostname with ;', { hostname: 'sdw3;rm -rf /' }],
    ['address with $()', { address: '$(id)' }],
    ['datadir with a quote', { datadir: "/data1/x'y" }],
    ['datadir with a newline', { datadir: '/data1/x\n/y' }],
    ['port as a string', { port: '7000; id' }],
  ])('refuses a plan item with %s before anything runs', (_, patch) => {
    const plan = [{ ...toSdw3(sdw2()[0]!), target: { ...toSdw3(sdw2()[0]!).target!, ...patch } }];
    expect(() => prepareRecovery(plan as PlanItem[], hostDown, gp7)).toThrow(ValidationError);
  });
});

describe('gprecoversegCommand', () => {
  it('builds the flags per recovery type', () => {
    expect(gprecoversegCommand({ type: 'incremental', configFileExpression: '"$F"' })).toBe(
      'gprecoverseg -a -i "$F"',
    );
    expect(gprecoversegCommand({ type: 'full', configFileExpression: '"$F"' })).toBe(
      'gprecoverseg -a -F -i "$F"',
    );
    expect(gprecoversegCommand({ type: 'differential' })).toBe('gprecoverseg -a --differential');
    expect(gprecoversegCommand({ type: 'full', newHosts: ['sdw3'] })).toBe(
      "gprecoverseg -a -F -p 'sdw3'",
    );
    // As capture 93 ran it.
    expect(
      gprecoversegCommand({ type: 'full', newHosts: ['sdw3'], previewFileExpression: '"$P"' }),
    ).toBe(`gprecoverseg -o "$P" -p 'sdw3'`);
  });

  it('refuses what gprecoverseg refuses, and hostile hosts', () => {
    expect(() => gprecoversegCommand({ type: 'differential', configFileExpression: 'f' })).toThrow(
      'Only one of -i, -p, -r and --differential may be specified',
    );
    expect(() =>
      gprecoversegCommand({ type: 'full', newHosts: ['sdw3'], configFileExpression: 'f' }),
    ).toThrow(RecoveryPlanRejected);
    expect(() => gprecoversegCommand({ type: 'full', newHosts: ['sdw3;id'] })).toThrow();
  });

  it('passes --replay-lag only where it exists (6.24.3 refuses it: adapter-runs #52)', () => {
    expect(gprecoversegRebalanceCommand(GREENPLUM_7, 10)).toBe(
      "gprecoverseg -a -r --replay-lag '10'",
    );
    expect(gprecoversegRebalanceCommand(CLOUDBERRY_2, 0.5)).toBe(
      "gprecoverseg -a -r --replay-lag '0.5'",
    );
    expect(gprecoversegRebalanceCommand(GREENPLUM_6, 10)).toBe('gprecoverseg -a -r');
    expect(
      startRebalanceScript('rebalance-k-0123456789ab', GREENPLUM_6, 10).join('\n'),
    ).not.toContain('--replay-lag');
    for (const bad of [
      0,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10_001,
      '10; id' as unknown as number,
    ])
      expect(() => gprecoversegRebalanceCommand(GREENPLUM_7, bad)).toThrow();
  });
});
