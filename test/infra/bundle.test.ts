import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { buildApp } from '#infra/build-app.ts';
import type { FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';

const outdir = mkdtempSync(join(tmpdir(), 'recoverseg-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

describe('a bundled synth of the whole app', () => {
  it(
    'builds one ESM bundle per function with local esbuild, and each loads in Node',
    { timeout: 120_000 },
    () => {
      const { app, stack } = buildApp({
        context: { 'recoverseg:clusterBackend': 'simulated' },
        outdir,
      });
      app.synth();
      const names = [
        ...Object.keys(WORKFLOW_TASKS),
        ...Object.keys(SERVICE_FUNCTIONS),
      ] as FunctionName[];
      const bundles = names.map((name) => {
        const asset = stack.lambdas[name].fn.node.findChild('Code') as Asset;
        const bundle = join(outdir, asset.assetPath, 'index.mjs');
        expect(existsSync(bundle), name).toBe(true);
        expect(existsSync(`${bundle}.map`), name).toBe(true);
        expect(readFileSync(bundle, 'utf8').startsWith(REQUIRE_BANNER), name).toBe(true);
        return bundle;
      });

      // What the Lambda runtime does first: import the module and find `handler`. A CommonJS
      // dependency without the require banner, or a subpath import esbuild missed, fails here.
      const loaded = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const kinds = [];
         for (const bundle of ${JSON.stringify(bundles)}) kinds.push(typeof (await import(bundle)).handler);
         console.log(JSON.stringify(kinds));`,
        ],
        { env: { ...process.env, AWS_REGION: 'eu-west-1' }, encoding: 'utf8' },
      );
      expect(JSON.parse(loaded)).toEqual(names.map(() => 'function'));
    },
  );
});
