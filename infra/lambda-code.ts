import { writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Stage, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync, type BuildOptions, type OutputFile } from 'esbuild';
import type { Construct } from 'constructs';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE_HTTP = `${REPO_ROOT}infra/node-http.cjs`;

/** Each function's asset holds its bundle as index.mjs, its source map beside it. */
const HANDLER_MODULE = 'index';
export const HANDLER = `${HANDLER_MODULE}.handler`;

/**
 * How every function is bundled (local esbuild, no Docker): one minified, tree-shaken ESM file
 * with everything it imports, the AWS SDK included at the versions package-lock.json pins (not
 * the runtime's, which AWS changes at will). Loading the SDK from inside the bundle is also the
 * faster cold start (README, "Lambda bundles"; `npm run bench -- coldStart bundles`).
 */
export const LAMBDA_BUNDLING = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  mainFields: ['module', 'main'],
  // ESM output calling require() (a CommonJS dependency, infra/node-http.cjs) would fail at that
  // call without it.
  banner: {
    js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  },
  tsconfig: `${REPO_ROOT}tsconfig.json`,
  minify: true,
  sourcemap: true,
  // Stack traces need the mappings, not the sources; keeps the bundles small.
  sourcesContent: false,
  // node:http through require(), not an ESM import (infra/node-http.cjs says why).
  alias: { 'node:http': NODE_HTTP, http: NODE_HTTP },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/**
 * Every function's code from ONE esbuild run over all their entries (esbuild reads each shared
 * module once; a run per function took most of a bundled synth), each function then
 * deployed from its own asset: its bundle and source map, nothing shared with another (no code
 * splitting: lambdas/common/stack-traces.ts maps the frames of the bundle itself only). The run
 * happens when the first asset is staged, so a synth without bundling (the local runner's, the
 * stack tests') runs none.
 */
export class LambdaCode<Name extends string> {
  private outputs: Map<string, OutputFile[]> | undefined;

  /** @param functions each function's entry, relative to the repository root, by its name */
  constructor(
    private readonly scope: Construct,
    private readonly functions: Record<Name, { entry: string }>,
  ) {}

  /** The code of one function (HANDLER), in its own asset directory. */
  of(name: Name): lambda.Code {
    const local: ILocalBundling & { functionName: Name } = {
      // CDK stages an asset once per distinct bundling options, compared as JSON: without the
      // name, every function would share the first one's bundle.
      functionName: name,
      tryBundle: (outputDir) => {
        const files = this.build().get(name);
        if (!files) throw new Error(`esbuild built no bundle for the function ${name}`);
        for (const file of files)
          writeFileSync(join(outputDir, basename(file.path)), file.contents);
        return true;
      },
    };
    return lambda.Code.fromAsset(REPO_ROOT, {
      // The bundle's bytes name the asset, as NodejsFunction's do; the source is never read.
      assetHashType: AssetHashType.OUTPUT,
      // Never pulled: the local build either stages the asset or throws.
      bundling: { image: DockerImage.fromRegistry('dummy'), local },
    });
  }

  private build(): Map<string, OutputFile[]> {
    if (this.outputs) return this.outputs;
    // Built as if beside the assets (cdk.out/<name>/), the depth of cdk.out/asset.<hash>/: the
    // source maps' relative paths still reach the sources from the staged asset.
    const outdir = Stage.of(this.scope)!.assetOutdir;
    const { outputFiles } = buildSync({
      ...LAMBDA_BUNDLING,
      entryPoints: Object.fromEntries(
        Object.entries<{ entry: string }>(this.functions).map(([name, { entry }]) => [
          join(name, HANDLER_MODULE),
          join(REPO_ROOT, entry),
        ]),
      ),
      outdir,
      outExtension: { '.js': '.mjs' },
      write: false,
    });
    this.outputs = new Map();
    for (const file of outputFiles) {
      const name = relative(outdir, dirname(file.path));
      this.outputs.set(name, [...(this.outputs.get(name) ?? []), file]);
    }
    return this.outputs;
  }
}
