import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isBuiltin } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { buildApp } from '#infra/build-app.ts';
import type { FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';
import { loadInNode24, NODE_24, type Loaded } from './load-bundles.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const outdir = mkdtempSync(join(tmpdir(), 'recoverseg-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

const FUNCTIONS: Record<FunctionName, { entry: string }> = {
  ...WORKFLOW_TASKS,
  ...SERVICE_FUNCTIONS,
};
const names = Object.keys(FUNCTIONS) as FunctionName[];

/** The chunks a bundle file imports, statically or dynamically (esbuild writes `./chunk-….mjs`). */
const chunksOf = (file: string): string[] => [
  ...new Set(
    [...readFileSync(file, 'utf8').matchAll(/["']\.\/(chunk-[\w-]+\.mjs)["']/g)].map(
      ([, chunk]) => chunk!,
    ),
  ),
];

/** A bundle's entry and every chunk it may load, followed through the files themselves. */
function reachedFrom(entry: string): string[] {
  const reached = new Set([basename(entry)]);
  for (const file of reached)
    for (const chunk of chunksOf(join(dirname(entry), file))) reached.add(chunk);
  return [...reached];
}

/** The files of a bundle's directory that hold code of `source` (a path in their maps). */
const holding = (bundle: string, source: string): string[] =>
  reachedFrom(bundle).filter((file) =>
    readFileSync(join(dirname(bundle), `${file}.map`), 'utf8').includes(source),
  );

describe('a bundled synth of the whole app', () => {
  const bundles = {} as Record<FunctionName, string>;
  let load: ReturnType<typeof loadInNode24> | undefined;
  const loaded = () =>
    (load ??= loadInNode24(
      names.map((name) => bundles[name]),
      { CLUSTER_BACKEND: 'simulated' },
    ));
  beforeAll(() => {
    const { app, stack } = buildApp({
      context: { 'recoverseg:clusterBackend': 'simulated' },
      outdir,
    });
    app.synth();
    for (const name of names) {
      const asset = stack.lambdas[name].fn.node.findChild('Code') as Asset;
      bundles[name] = join(outdir, asset.assetPath, `${name}.mjs`);
    }
  }, 300_000);

  it('builds one ESM bundle per function with local esbuild, with its source map', () => {
    for (const name of names) {
      const bundle = bundles[name];
      expect(existsSync(bundle), name).toBe(true);
      expect(readFileSync(bundle, 'utf8').startsWith(REQUIRE_BANNER), name).toBe(true);
      // Its own entry (the first pass builds them all), mapped through both passes' maps from
      // where the asset is staged.
      const { sources } = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as {
        sources: string[];
      };
      const entries = sources
        .map((source) => join(dirname(bundle), source))
        .filter(
          (source) => source.startsWith(join(ROOT, 'lambdas/')) && !source.includes('/common/'),
        );
      expect(entries, name).toEqual([join(ROOT, FUNCTIONS[name].entry)]);
    }
  });

  it('deploys each function from its own directory: its entry, the chunks it loads, their maps', () => {
    for (const name of names) {
      const files = reachedFrom(bundles[name]);
      expect(
        files.filter((file) => !file.startsWith('chunk-')),
        name,
      ).toEqual([`${name}.mjs`]);
      expect(readdirSync(dirname(bundles[name])).sort(), name).toEqual(
        files.flatMap((file) => [file, `${file}.map`]).sort(),
      );
    }
  });

  it('loads each bundle in Node 24 and finds its handler', () => {
    // A CommonJS dependency without the require banner, or a package esbuild left out (there is
    // no node_modules beside the bundles), fails here.
    expect(loaded().map((bundle) => bundle.handler)).toEqual(names.map(() => 'function'));
  });

  it('imports nothing from outside itself but Node built-ins, lazy chunks included: the AWS SDK is bundled', () => {
    for (const [i, name] of names.entries()) {
      const { all } = loaded()[i]!;
      expect(all.files, name).toEqual(reachedFrom(bundles[name]).sort());
      const outside = all.imports.filter((line) => !isBuiltin(line.split(' ')[1]!));
      expect(outside, name).toEqual([]);
    }
  });

  it('parses an SDK client one Task alone calls only when it calls it, never at init', () => {
    const lazily = {
      FenceCoordinator: '@aws-sdk/client-ec2',
      MoveClients: '@aws-sdk/client-route-53',
      CheckRecovery: '@aws-sdk/client-s3',
    } satisfies Partial<Record<FunctionName, string>>;
    for (const [name, client] of Object.entries(lazily) as [FunctionName, string][]) {
      const chunks = holding(bundles[name], `/node_modules/${client}/`);
      expect(chunks, `${name}: the chunks holding ${client}`).not.toEqual([]);
      const atInit = loaded()[names.indexOf(name)]!.atInit.files;
      expect(
        atInit.filter((file) => chunks.includes(file)),
        name,
      ).toEqual([]);
    }
  });

  it('loads at init the cluster backend CLUSTER_BACKEND names, and no other', () => {
    const ssmClient = holding(bundles.CheckSync, '/node_modules/@aws-sdk/client-ssm/');
    const simulator = holding(bundles.CheckSync, '/shared/cluster/simulated/simulated-cluster.ts');
    expect(ssmClient).not.toEqual([]);
    expect(simulator).not.toEqual([]);
    const [simulated] = loaded().filter((_, i) => names[i] === 'CheckSync');
    const [overSsm] = loadInNode24([bundles.CheckSync], { CLUSTER_BACKEND: 'ssm' }, false);
    const atInit = (of: Loaded, files: string[]) => of.files.filter((f) => files.includes(f));
    expect(atInit(simulated!.atInit, simulator)).not.toEqual([]);
    expect(atInit(simulated!.atInit, ssmClient)).toEqual([]);
    expect(atInit(overSsm!.atInit, ssmClient)).not.toEqual([]);
    expect(atInit(overSsm!.atInit, simulator)).toEqual([]);
  });

  it('loads no node:child_process at init: a Lambda spawns nothing (4 ms of every init)', () => {
    for (const [i, name] of names.entries())
      expect(
        loaded()[i]!.atInit.imports.filter((line) => line.endsWith('child_process')),
        name,
      ).toEqual([]);
  });

  it('never imports node:http as an ES module (infra/node-http.cjs)', () => {
    for (const [i, name] of names.entries()) {
      const http = loaded()[i]!.all.imports.filter((line) => /^import (node:)?http$/.test(line));
      expect(http, name).toEqual([]);
    }
  });

  it("maps an error's stack through the bundle's source map when the stack is read", () => {
    // No --enable-source-maps (its parse at load weighs on every cold start): the bundle maps
    // its own frames (lambdas/common/stack-traces.ts). Bad input fails in parseOrThrow.
    const script = `
      const { handler } = await import(process.argv[1]);
      try { await handler({ input: 42 }, {}); } catch (error) { console.log(error.stack); }`;
    const stack = execFileSync(NODE_24, ['--input-type=module', '-e', script, bundles.CheckSync], {
      env: {
        ...process.env,
        AWS_REGION: 'eu-west-1',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
      encoding: 'utf8',
    });
    expect(stack).toMatch(/^ValidationError: /);
    expect(stack).toMatch(/\n {4}at .*\/shared\/domain\/validation\.ts:\d+:\d+\)?\n/);
    expect(stack).not.toMatch(/\.mjs:\d/);
  });
});
