import { describe, expect, inject, it } from 'vitest';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderConfigurationTable } from '#domain/render.ts';
import { freePort } from '#local/dynamodb-local.ts';
import { createDynamoClient } from '#store/clients.ts';
import { prefixedTableNames } from '#store/tables.ts';
import { SEED_SCENARIO_FILE, seedTables } from '#test/fixtures/seed.ts';
import { sharedDynamoFlags } from '#test/e2e/shared-dynamo.ts';

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'recoverseg-cli-'));

function recoverseg(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scenarioFile(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const seed = JSON.parse(readFileSync(SEED_SCENARIO_FILE, 'utf8'));

async function tableNames(): Promise<string[]> {
  const client = createDynamoClient(inject('dynamodbEndpoint'));
  try {
    return (await client.send(new ListTablesCommand({}))).TableNames ?? [];
  } finally {
    client.destroy();
  }
}

describe('recoverseg scenario', () => {
  it('passes the golden scenario and prints exactly one JSON document with --json', async () => {
    // In zero simulated time: at timeScale 1 the run waits out FTS's 30 s mirror-down grace
    // period on the wall clock, which says nothing more about the CLI.
    const instant = { ...seed, simulation: { ...seed.simulation, timeScale: 0 } };
    const store = sharedDynamoFlags('cli');
    const { code, stdout, stderr } = recoverseg(
      'scenario',
      scenarioFile('seed-instant.json', instant),
      '--json',
      '--poll-seconds',
      '0',
      ...store,
    );
    expect(code, stderr).toBe(0);
    // Its tables, in the DynamoDB Local it was given.
    expect(await tableNames()).toEqual(
      expect.arrayContaining(Object.values(prefixedTableNames(store[3]!))),
    );
    const report = JSON.parse(stdout);
    expect(report.cluster).toBe('seed');
    expect(report.outcome).toEqual({ status: 'succeeded', error: null });
    expect(report.snapshots.map((s: { phase: string }) => s.phase)).toEqual([
      'detected',
      'promoted',
      'recovered',
      'synchronized',
      'rebalanced',
    ]);
    const [t1, t2, t3] = seedTables();
    const table = (phase: string) =>
      renderConfigurationTable(
        report.snapshots.find((s: { phase: string }) => s.phase === phase).configuration,
      );
    expect([table('promoted'), table('synchronized'), table('rebalanced')]).toEqual([t1, t2, t3]);
    expect(report.events[0]).toMatchObject({ seq: 1, type: 'ClusterRegistered' });
  }, 120_000);

  it('exits 1 with a row diff when an expectation fails', () => {
    const wrong = structuredClone(seed);
    const expectStep = wrong.steps.find(
      (s: { expect?: { phase: string } }) => s.expect?.phase === 'rebalanced',
    );
    expectStep.expect.configuration[2].status = 'd';
    wrong.simulation = { ...wrong.simulation, timeScale: 0 };
    const { code, stdout } = recoverseg(
      'scenario',
      scenarioFile('wrong.json', wrong),
      '--poll-seconds',
      '0',
      ...sharedDynamoFlags('cli'),
    );
    expect(code).toBe(1);
    expect(stdout).toContain(
      'scenario FAILED: expect at $.steps[4] (phase rebalanced): configuration differs',
    );
    expect(stdout).toContain('- |2|0|p|p|s|d|10000|segment-1|segment-1|/data1/primary/gpseg0|');
    expect(stdout).toContain('+ |2|0|p|p|s|u|10000|segment-1|segment-1|/data1/primary/gpseg0|');
  }, 120_000);

  it.each([
    ['not JSON', '{"cluster": ', /not JSON/],
    [
      'a wrong type',
      { ...seed, segments: [{ ...seed.segments[0], dbid: 'one' }, ...seed.segments.slice(1)] },
      /^recoverseg: \$\.segments\[0\]\.dbid: /,
    ],
    ['an unknown step', { ...seed, steps: [{ explode: {} }] }, /^recoverseg: \$\.steps\[0\]/],
    [
      'an unknown host',
      { ...seed, steps: [{ fail: { host: 'segment-9' } }] },
      /^recoverseg: \$\.steps\[0\]\.fail\.host: host segment-9 is not in the cluster$/,
    ],
    [
      'an unknown dbid',
      { ...seed, steps: [{ fail: { dbid: 99, kind: 'crash' } }] },
      /\$\.steps\[0\]\.fail\.dbid: dbid 99 is not in the cluster/,
    ],
    [
      'an invalid topology',
      {
        ...seed,
        segments: seed.segments.map((s: { dbid: number }) =>
          s.dbid === 6 ? { ...s, role: 'p', port: 10600 } : s,
        ),
      },
      /content 0 has two acting primaries \(dbid 2, 6\)/,
    ],
    [
      'a hostile host name',
      { ...seed, steps: [{ fail: { host: 'segment-1; rm -rf /' } }] },
      /\$\.steps\[0\]\.fail\.host/,
    ],
    [
      'incremental with relocation',
      {
        ...seed,
        steps: [{ recover: { type: 'incremental', targetHosts: { 'segment-2': 'segment-3' } } }],
      },
      /incremental recovery cannot move segments/,
    ],
  ])('exits 2 with one line for %s', (_name, content, message) => {
    const { code, stdout, stderr } = recoverseg('scenario', scenarioFile('bad.json', content));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr.trim()).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with one line, and creates no table, for a DynamoDB Local it cannot use', async () => {
    const file = scenarioFile('seed.json', seed);
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const cases: [string[], RegExp][] = [
      [
        ['--dynamodb-local', nobody, '--table-prefix', 'refused-1'],
        new RegExp(
          `^recoverseg: nothing answers at ${nobody} \\(ECONNREFUSED\\): start DynamoDB Local there`,
        ),
      ],
      [
        ['--dynamodb-local', 'file:///etc/passwd', '--table-prefix', 'refused-2'],
        /^recoverseg: --dynamodb-local file:\/\/\/etc\/passwd: expected the URL of a running DynamoDB Local/,
      ],
      [
        ['--dynamodb-local', inject('dynamodbEndpoint'), '--table-prefix', 'x;rm -rf /'],
        /^recoverseg: --table-prefix x;rm -rf \/: expected 1 to 64 letters/,
      ],
      [
        ['--dynamodb-local', inject('dynamodbEndpoint'), '--table-prefix', 'p'.repeat(65)],
        /^recoverseg: --table-prefix p{65}: expected 1 to 64 letters/,
      ],
    ];
    for (const [flags, message] of cases) {
      const { code, stdout, stderr } = recoverseg('scenario', file, ...flags);
      expect(code, stderr).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(message);
    }
    const data = recoverseg('serve', '--data', dir, '--dynamodb-local', inject('dynamodbEndpoint'));
    expect(data.code).toBe(2);
    expect(data.stderr).toMatch(
      /'--data <dir>' cannot be used with option '--dynamodb-local <url>'/,
    );
    expect((await tableNames()).filter((name) => /^(refused|x;|p{65})/.test(name))).toEqual([]);
  });

  it('exits 2 for a missing file and for unknown options', () => {
    expect(recoverseg('scenario', join(dir, 'missing.json')).stderr).toMatch(
      /^recoverseg: .*missing\.json: cannot read \(ENOENT\)\n$/,
    );
    const unknown = recoverseg('scenario', 'x.json', '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/i);
  });
});

describe('recoverseg --help and bad flags', () => {
  it('prints the usage of the program and of each command; a bad flag is one line, exit 2', () => {
    const root = recoverseg('--help');
    expect(root.code).toBe(0);
    expect(root.stdout).toMatch(/^Usage: recoverseg <command> \[options\]/);
    for (const command of ['recover', 'approve', 'cancel', 'serve', 'status'])
      expect(root.stdout).toContain(`  ${command} `);
    const recover = recoverseg('recover', '--help');
    expect(recover.code).toBe(0);
    expect(recover.stdout).toMatch(/^Usage: recoverseg recover \[options\]/);
    expect(recover.stdout).toContain('--detach');
    expect(recover.stdout).toContain('3  redundant again and waiting for rebalance approval');
    const bad = recoverseg('recover', '--cluster', 'seed', '--type', 'sideways');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(
      /^recoverseg: option '--type <type>' argument 'sideways' is invalid/,
    );
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);
});
