/**
 * What a developer waits for: `npm run test:unit` (no JVM, no synth) and `npm test` (every
 * project), each run once in a child process, with vitest's JSON report for the counts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, log, met, round, type BenchContext, type Figures } from './context.ts';

/** A test run failed: its time would not be the time of a passing suite. */
export class TestRunFailed extends Error {
  override name = 'TestRunFailed';
}

interface Report {
  testResults: unknown[];
  numTotalTests: number;
  numFailedTests: number;
}

function vitest(args: string[]): { seconds: number; files: number; tests: number } {
  const report = join(mkdtempSync(join(tmpdir(), 'recoverseg-bench-tests-')), 'report.json');
  const started = performance.now();
  const result = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'vitest'),
    ['run', ...args, '--reporter=json', `--outputFile=${report}`],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
  );
  const seconds = round((performance.now() - started) / 1000, 1);
  const json = JSON.parse(readFileSync(report, 'utf8')) as Report;
  if (result.status !== 0 || json.numFailedTests > 0)
    throw new TestRunFailed(`vitest run ${args.join(' ')}: ${json.numFailedTests} failed`);
  return { seconds, files: json.testResults.length, tests: json.numTotalTests };
}

export async function tests(_context: BenchContext): Promise<Figures> {
  const unit = vitest(['--project', 'unit*']);
  log(`tests: unit ${JSON.stringify(unit)}`);
  const all = vitest([]);
  log(`tests: all ${JSON.stringify(all)}`);
  return {
    unit,
    all,
    method:
      'wall time of node_modules/.bin/vitest run (--project unit* for the unit projects), one run each, from spawn to exit, on this machine as it is (the bench says nothing of its load); the synth cache and the CLI build warm.',
    readme: [
      {
        figure: 'npm run test:unit',
        value: `${unit.seconds} s (${unit.files} files, ${unit.tests} tests)`,
        target: `<= 15 s: ${met(unit.seconds <= 15)}`,
      },
      {
        figure: 'npm test',
        value: `${all.seconds} s (${all.files} files, ${all.tests} tests)`,
        target: `<= 120 s: ${met(all.seconds <= 120)}`,
      },
    ],
  };
}
