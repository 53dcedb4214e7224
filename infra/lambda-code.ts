import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Stage, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync, type BuildOptions, type Metafile, type OutputFile } from 'esbuild';
import type { Construct } from 'constructs';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE_HTTP = `${REPO_ROOT}infra/node-http.cjs`;

/** A function's handler: `handler` exported by its entry, `<name>.mjs` in its asset. */
export const handlerOf = (name: string): string => `${name}.handler`;

/**
 * How every function is bundled (local esbuild, no Docker): minified, tree-shaken ESM with
 * everything it imports, the AWS SDK included at the versions package-lock.json pins (not the
 * runtime's, which AWS changes at will). Loading the SDK from inside the bundle is also the
 * faster cold start (README, "Lambda bundles"; `npm run bench -- coldStart bundles`). Split:
 * what a function imports dynamically (the S3 client of large SSM answers, the EC2 client of the
 * fence, Route 53's) is a chunk of its own, parsed only when first called, not at every init.
 * Both of bundleFunctions' passes build so.
 */
const ESM_SPLIT = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  chunkNames: 'chunk-[hash]',
  target: 'node24',
  outExtension: { '.js': '.mjs' },
  minify: true,
  // The second pass maps through the first pass's maps (esbuild reads an input's linked map).
  sourcemap: true,
  // Stack traces need the mappings, not the sources; keeps the bundles small.
  sourcesContent: false,
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** The first pass: the sources and packages of every function. */
const FROM_SOURCES = {
  ...ESM_SPLIT,
  mainFields: ['module', 'main'],
  tsconfig: `${REPO_ROOT}tsconfig.json`,
  // node:http through require(), not an ESM import (infra/node-http.cjs says why).
  alias: { 'node:http': NODE_HTTP, http: NODE_HTTP },
} as const satisfies BuildOptions;

/** The second pass: one function's graph of first-pass files, linked into the files deployed. */
const LINKING = {
  ...ESM_SPLIT,
  // ESM output calling require() (a CommonJS dependency, infra/node-http.cjs) would fail at that
  // call without it. Here, not in the first pass: one per file written.
  banner: {
    js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  },
} as const satisfies BuildOptions;

/** Each function's files: its entry `<name>.mjs` and every chunk it may load, maps beside them. */
export type FunctionFiles<Name extends string> = Map<Name, OutputFile[]>;

export interface BundledFunctions<Name extends string> {
  files: FunctionFiles<Name>;
  /** The second pass of each function, its outputs named relative to the repository root. */
  linked: Record<Name, Metafile>;
  /** The first pass (every function at once), whose inputs are the sources and packages. */
  split: Metafile;
}

/**
 * Every function's files, returned, not written (the first pass's go to a temporary directory,
 * removed after), from two esbuild passes:
 * 1. ONE run over every entry (esbuild reads each source and package once; a run per function
 *    took most of a bundled synth), split into the chunks that any set of functions shares:
 *    some 17 modules for a Task that drives the cluster.
 * 2. Per function, its entry from the first pass linked again on its own: as few files as its
 *    dynamic imports allow (the entry, the chunks its lazily loaded SDK clients need and share
 *    with it), each function's code minified as one. Every ES module costs its init a URL, a
 *    stat, a read and a link: 10 modules instead of 17 for a Task that drives the cluster, and
 *    about 50 KiB fewer; fast, since its input is the first pass's JavaScript.
 * @param outdir where the files are meant to be, for the source maps' relative paths
 */
export function bundleFunctions<Name extends string>(
  functions: Record<Name, { entry: string }>,
  outdir: string,
): BundledFunctions<Name> {
  const names = Object.keys(functions) as Name[];
  const staging = mkdtempSync(join(tmpdir(), 'recoverseg-split-'));
  try {
    const { metafile: split } = buildSync({
      ...FROM_SOURCES,
      entryPoints: Object.fromEntries(
        names.map((name) => [name, join(REPO_ROOT, functions[name].entry)]),
      ),
      outdir: staging,
      // The metafile names its files relative to this.
      absWorkingDir: REPO_ROOT,
      metafile: true,
    });
    const files: FunctionFiles<Name> = new Map();
    const linked = {} as Record<Name, Metafile>;
    for (const name of names) {
      const { outputFiles, metafile } = buildSync({
        ...LINKING,
        entryPoints: { [name]: join(staging, `${name}.mjs`) },
        outdir,
        absWorkingDir: REPO_ROOT,
        metafile: true,
        write: false,
      });
      files.set(name, outputFiles);
      linked[name] = metafile;
    }
    return { files, linked, split };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Every function's code (bundleFunctions), each function deployed from its own asset: its files
 * and nothing another function alone needs. The run happens when the first asset is staged, so
 * a synth without bundling (the local runner's, the stack tests') runs none.
 */
export class LambdaCode<Name extends string> {
  private files: FunctionFiles<Name> | undefined;

  /** @param functions each function's entry, relative to the repository root, by its name */
  constructor(
    private readonly scope: Construct,
    private readonly functions: Record<Name, { entry: string }>,
  ) {}

  /** The code of one function (handlerOf(name)), in its own asset directory. */
  of(name: Name): lambda.Code {
    const local: ILocalBundling & { functionName: Name } = {
      // CDK stages an asset once per distinct bundling options, compared as JSON: without the
      // name, every function would share the first one's bundle.
      functionName: name,
      tryBundle: (outputDir) => {
        // Built as if in a directory beside the assets (cdk.out/lambdas/), at the depth of
        // cdk.out/asset.<hash>/: the maps' relative paths still reach the sources from there.
        this.files ??= bundleFunctions(
          this.functions,
          join(Stage.of(this.scope)!.assetOutdir, 'lambdas'),
        ).files;
        const files = this.files.get(name);
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
}
