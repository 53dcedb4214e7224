import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { buildApp } from '#infra/build-app.ts';
import type { FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The nodejs24.x runtime's Node: the `node` devDependency, not the Node running vitest. */
const NODE_24 = join(ROOT, 'node_modules/node/bin/node');

const outdir = mkdtempSync(join(tmpdir(), 'recoverseg-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

const FUNCTIONS: Record<FunctionName, { entry: string }> = {
  ...WORKFLOW_TASKS,
  ...SERVICE_FUNCTIONS,
};
const names = Object.keys(FUNCTIONS) as FunctionName[];

/**
 * What the Lambda runtime does first, in Node 24: import each bundle and find `handler`; and,
 * through a resolve hook, which modules each bundle imports or requires from outside itself
 * while it loads (`import node:fs`, `require node:http`).
 */
function loadInNode24(bundles: string[]): { handler: string; imports: string[] }[] {
  const script = `
    import { registerHooks } from 'node:module';
    import { pathToFileURL } from 'node:url';
    const bundles = ${JSON.stringify(bundles)};
    const urls = bundles.map((bundle) => pathToFileURL(bundle).href);
    const imports = urls.map(() => new Set());
    registerHooks({
      resolve(specifier, context, next) {
        const i = urls.indexOf(context.parentURL);
        const how = context.conditions.includes('require') ? 'require' : 'import';
        if (i >= 0) imports[i].add(how + ' ' + specifier);
        return next(specifier, context);
      },
    });
    const loaded = [];
    for (const [i, url] of urls.entries())
      loaded.push({ handler: typeof (await import(url)).handler, imports: [...imports[i]].sort() });
    console.log(JSON.stringify(loaded));`;
  return JSON.parse(
    execFileSync(NODE_24, ['--input-type=module', '-e', script], {
      env: { ...process.env, AWS_REGION: 'eu-west-1' },
      encoding: 'utf8',
    }),
  );
}

describe('a bundled synth of the whole app', () => {
  const bundles = {} as Record<FunctionName, string>;
  let load: ReturnType<typeof loadInNode24> | undefined;
  const loaded = () => (load ??= loadInNode24(names.map((name) => bundles[name])));
  beforeAll(() => {
    const { app, stack } = buildApp({
      context: { 'recoverseg:clusterBackend': 'simulated' },
      outdir,
    });
    app.synth();
    for (const name of names) {
      const asset = stack.lambdas[name].fn.node.findChild('Code') as Asset;
      bundles[name] = join(outdir, asset.assetPath, 'index.mjs');
    }
  }, 300_000);

  it('builds one ESM bundle per function with local esbuild, with its source map', () => {
    for (const name of names) {
      const bundle = bundles[name];
      expect(existsSync(bundle), name).toBe(true);
      expect(readFileSync(bundle, 'utf8').startsWith(REQUIRE_BANNER), name).toBe(true);
      // Its own entry (one esbuild run builds them all), mapped from where the asset is staged.
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

  it('deploys each function from its own directory holding nothing but its bundle and map', () => {
    for (const name of names)
      expect(readdirSync(dirname(bundles[name])).sort(), name).toEqual([
        'index.mjs',
        'index.mjs.map',
      ]);
  });

  it('loads each bundle in Node 24 and finds its handler', () => {
    // A CommonJS dependency without the require banner, or a package esbuild left out (there is
    // no node_modules beside the bundles), fails here.
    expect(loaded().map((bundle) => bundle.handler)).toEqual(names.map(() => 'function'));
  });

  it('imports nothing from outside itself but Node built-ins: the AWS SDK is bundled', () => {
    for (const [i, name] of names.entries()) {
      const outside = loaded()[i]!.imports.filter((line) => !isBuiltin(line.split(' ')[1]!));
      expect(outside, name).toEqual([]);
    }
  });

  it('never imports node:http as an ES module (infra/node-http.cjs)', () => {
    for (const [i, name] of names.entries()) {
      const http = loaded()[i]!.imports.filter((line) => /^import (node:)?http$/.test(line));
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
    expect(stack).not.toContain('index.mjs:');
  });
});
