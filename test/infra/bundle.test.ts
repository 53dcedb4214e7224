import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { buildApp } from '#infra/build-app.ts';
import type { FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The nodejs24.x runtime's Node: the `node` devDependency, not the Node running vitest. */
const NODE_24 = join(ROOT, 'node_modules/node/bin/node');
const MAX_BYTES = 250 * 1024;

const outdir = mkdtempSync(join(tmpdir(), 'recoverseg-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

const names = [...Object.keys(WORKFLOW_TASKS), ...Object.keys(SERVICE_FUNCTIONS)] as FunctionName[];

/**
 * What the Lambda runtime does first, in Node 24: import each bundle and find `handler`; and,
 * through a resolve hook, which modules each bundle imports from outside itself.
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
        if (i >= 0) imports[i].add(specifier);
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
    // The runtime resolves `@aws-sdk/*` to the SDK it ships; here, to the one installed.
    symlinkSync(join(ROOT, 'node_modules'), join(outdir, 'node_modules'), 'dir');
  }, 300_000);

  it('builds one ESM bundle per function with local esbuild, with its source map', () => {
    for (const name of names) {
      const bundle = bundles[name];
      expect(existsSync(bundle), name).toBe(true);
      expect(existsSync(`${bundle}.map`), name).toBe(true);
      expect(readFileSync(bundle, 'utf8').startsWith(REQUIRE_BANNER), name).toBe(true);
    }
  });

  it('keeps every bundle at or under 250 KiB', () => {
    const sizes = Object.fromEntries(names.map((name) => [name, statSync(bundles[name]).size]));
    const over = Object.entries(sizes).filter(([, bytes]) => bytes > MAX_BYTES);
    expect(over, 'bundles over 250 KiB (bytes)').toEqual([]);
  });

  it('loads each bundle in Node 24 and finds its handler', () => {
    // A CommonJS dependency without the require banner, or a subpath import esbuild missed,
    // fails here.
    expect(loaded().map((bundle) => bundle.handler)).toEqual(names.map(() => 'function'));
  });

  it('leaves out only the AWS SDK the runtime provides and Node built-ins', () => {
    for (const [i, name] of names.entries()) {
      const outside = loaded()[i]!.imports.filter(
        (specifier) => !specifier.startsWith('node:') && !specifier.startsWith('@aws-sdk/'),
      );
      // `module` is the banner's createRequire.
      expect(outside, name).toEqual(['module']);
    }
  });
});
