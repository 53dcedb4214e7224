/**
 * recoverseg benchmarks: `npm run bench` runs them all, `npm run bench -- seed bundles` the
 * ones named, `--quick` fewer runs and smaller loads. Never part of npm test.
 *
 * Each measurement is a module exporting one function that returns its figures (bench/context.ts
 * says what it gets and returns). The figures replace that measurement's entry in
 * bench/results.json, which is committed; README's figures table is rendered from it
 * (bench/figures.ts, checked by test/unit/bench/readme-figures.test.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { append } from './append.ts';
import { bundles } from './bundles.ts';
import { cli } from './cli.ts';
import { coldStart } from './cold-start.ts';
import { detect } from './detect.ts';
import { ROOT, benchContext, log, round, type Measurement } from './context.ts';
import { README, RESULTS, renderReadme } from './figures.ts';
import { fold } from './fold.ts';
import { rebuild } from './rebuild.ts';
import { scale } from './scale.ts';
import { seed } from './seed.ts';
import { tests } from './tests.ts';

/** Every measurement, by the name it has on the command line and in results.json. */
const MEASUREMENTS: Record<string, Measurement> = {
  seed,
  detect,
  append,
  rebuild,
  fold,
  // After the others that use DynamoDB Local: its 16,384-segment incidents leave it slower.
  scale,
  bundles,
  coldStart,
  cli,
  tests,
};

async function main(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const named = args.filter((arg) => !arg.startsWith('--'));
  const unknown = named.filter((name) => !(name in MEASUREMENTS));
  if (unknown.length > 0)
    throw new Error(
      `unknown measurement ${unknown.join(', ')}; known: ${Object.keys(MEASUREMENTS).join(', ')}`,
    );
  const chosen = named.length > 0 ? named : Object.keys(MEASUREMENTS);

  const file = join(ROOT, RESULTS);
  const results = (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}) as Record<
    string,
    unknown
  >;
  const context = benchContext(quick);
  try {
    for (const name of chosen) {
      const started = performance.now();
      const figures = await MEASUREMENTS[name]!(context);
      results[name] = {
        ...figures,
        measuredAt: new Date().toISOString(),
        node: process.version,
        quick,
      };
      log(`${name}: ${round((performance.now() - started) / 1000, 1)} s`);
    }
  } finally {
    await context.close();
  }
  // Registry order first, then whatever else the file holds.
  const ordered = Object.fromEntries(
    [...Object.keys(MEASUREMENTS), ...Object.keys(results)]
      .filter((name, i, all) => name in results && all.indexOf(name) === i)
      .map((name) => [name, results[name]]),
  );
  writeFileSync(file, `${JSON.stringify(ordered, null, 2)}\n`);
  const readme = readFileSync(join(ROOT, README), 'utf8');
  writeFileSync(join(ROOT, README), await renderReadme(readme, ordered));
  log(`written: ${RESULTS}, and its figures into ${README}`);
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
