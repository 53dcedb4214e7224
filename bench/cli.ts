/**
 * What a user of the `recoverseg` command waits for, measured on the real bin in child
 * processes (bench/run.ts reports it): `--help`, a client command against `serve`, the start of
 * `serve` until its API answers, and `npm start`'s demo end to end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from '#local/dynamodb-local.ts';
import { log, median, met, type BenchContext, type Figures } from './context.ts';

const BIN = fileURLToPath(new URL('../local/bin/recoverseg.js', import.meta.url));
const SEED = fileURLToPath(new URL('../scenarios/seed-host-failure.json', import.meta.url));

export interface CliTimes {
  /** `recoverseg --help`, median ms. */
  helpMs: number;
  /** `recoverseg status --cluster seed` against `serve`, median ms. */
  statusMs: number;
  /** `recoverseg events --cluster seed` against `serve` (the seed's registration), median ms. */
  eventsMs: number;
  /** `recoverseg serve` from spawn to its ready line (DynamoDB Local started, API listening). */
  serveReadyMs: number;
  /** `recoverseg demo` (`npm start`) from spawn to exit, one run. */
  demoMs: number;
}

/** The CLI exited other than the measured command should: the figure would mean nothing. */
export class CliBenchFailed extends Error {
  override name = 'CliBenchFailed';
}

/** Wall ms of one run of the bin with `args`; throws unless it exits 0. */
function run(args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0)
    throw new CliBenchFailed(
      `recoverseg ${args.join(' ')} exited ${result.status}: ${result.stderr.trim()}`,
    );
  return ms;
}

const runs = (count: number, args: string[]) =>
  median(Array.from({ length: count }, () => run(args)));

/**
 * Measures the CLI: each short command `count` times after one unmeasured run (which builds the
 * CLI if its sources changed), `serve` and the demo once each.
 */
export async function measureCli(count = 5): Promise<CliTimes> {
  run(['--help']);
  const helpMs = runs(count, ['--help']);

  const port = await freePort();
  const started = performance.now();
  const serve = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      serve.stdout.setEncoding('utf8');
      serve.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Ctrl-C stops')) resolve();
      });
      serve.once('exit', (code) =>
        reject(new CliBenchFailed(`recoverseg serve exited ${code}: ${output.trim()}`)),
      );
    });
    const serveReadyMs = performance.now() - started;
    const endpoint = `http://127.0.0.1:${port}`;
    run(['register', SEED, '--endpoint', endpoint]);
    const client = ['--cluster', 'seed', '--endpoint', endpoint];
    const statusMs = runs(count, ['status', ...client]);
    const eventsMs = runs(count, ['events', ...client]);
    serve.kill('SIGTERM');
    await once(serve, 'exit');
    const demoMs = run(['demo']);
    return { helpMs, statusMs, eventsMs, serveReadyMs, demoMs };
  } finally {
    if (serve.exitCode === null) serve.kill('SIGKILL');
  }
}

const ms = (x: number) => `${Math.round(x)} ms`;

/** The CLI's figures as bench/run.ts records them, with their README rows and targets. */
export async function cli(context: BenchContext): Promise<Figures> {
  const count = context.quick ? 3 : 7;
  const times = await measureCli(count);
  log(`cli: ${JSON.stringify(times)}`);
  return {
    ...times,
    method: `the real bin (node local/bin/recoverseg.js) in child processes on Node ${process.version}: --help, status and events against a running serve, median of ${count} after one unmeasured run; serve from spawn to its ready line and the demo (npm start's command) from spawn to exit, one run each, with the synth cache warm. npx adds its own start-up (about 1 s) in front of each.`,
    readme: [
      {
        figure: 'recoverseg --help',
        value: ms(times.helpMs),
        target: `<= 300 ms: ${met(times.helpMs <= 300)}`,
      },
      {
        figure: 'recoverseg status (client)',
        value: ms(times.statusMs),
        target: `<= 500 ms: ${met(times.statusMs <= 500)}`,
      },
      {
        figure: 'recoverseg events (client)',
        value: ms(times.eventsMs),
        target: `<= 500 ms: ${met(times.eventsMs <= 500)}`,
      },
      { figure: 'recoverseg serve, spawn to ready', value: ms(times.serveReadyMs) },
      {
        figure: 'npm start (the demo), end to end',
        value: ms(times.demoMs),
        target: `<= 10000 ms: ${met(times.demoMs <= 10_000)}`,
      },
    ],
  };
}
