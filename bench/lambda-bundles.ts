import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { build, type Metafile } from 'esbuild';
import { buildApp } from '#infra/build-app.ts';
import { LAMBDA_BUNDLING } from '#infra/lambda-code.ts';
import type { FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';
import { ROOT, log } from './context.ts';

export const FUNCTIONS = { ...WORKFLOW_TASKS, ...SERVICE_FUNCTIONS } as Record<
  FunctionName,
  { entry: string }
>;
export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

export interface Bundle {
  /** index.mjs, its source map beside it. */
  path: string;
  bytes: number;
}

/** Where a bundle's bytes come from: the package (or recoverseg's own code) of each input. */
export type Composition = Record<string, number>;

export interface LambdaBundles {
  /** As deployed. */
  deployed: Record<FunctionName, Bundle>;
  deployedBy: string;
  /** Bytes of each bundle by origin, from esbuild's metafile with the stack's settings. */
  composition: Record<FunctionName, Composition>;
  /** The directory holding them, nothing else: no node_modules for a bundle to reach. */
  dir: string;
}

let built: Promise<LambdaBundles> | undefined;

/**
 * Every function bundled once per process (bundles and cold start share them), as the stack
 * deploys it: `cdk synth`, or with --quick esbuild run directly with the stack's settings.
 * Removed when the process exits.
 */
export function lambdaBundles(quick: boolean): Promise<LambdaBundles> {
  built ??= buildAll(quick);
  return built;
}

async function buildAll(quick: boolean): Promise<LambdaBundles> {
  const dir = mkdtempSync(join(tmpdir(), 'recoverseg-bench-bundles-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  log('bundles: building every function');
  const esbuilt = await withEsbuild(join(dir, 'esbuild'));
  return {
    deployed: quick ? esbuilt.bundles : withCdk(dir),
    deployedBy: quick
      ? "esbuild run directly with the stack's settings (LAMBDA_BUNDLING, --quick)"
      : 'cdk synth (buildApp from infra/build-app.ts, one local esbuild run for every function)',
    composition: esbuilt.composition,
    dir,
  };
}

function withCdk(dir: string): Record<FunctionName, Bundle> {
  const outdir = join(dir, 'cdk.out');
  const { app, stack } = buildApp({ outdir });
  app.synth();
  return Object.fromEntries(
    FUNCTION_NAMES.map((name) => {
      const asset = stack.lambdas[name].fn.node.findChild('Code') as Asset;
      const path = join(outdir, asset.assetPath, 'index.mjs');
      return [name, { path, bytes: statSync(path).size }];
    }),
  ) as Record<FunctionName, Bundle>;
}

/** `node_modules/@aws-sdk/client-ssm/dist-es/…` -> `@aws-sdk/client-ssm`; else `recoverseg`. */
function origin(input: string): string {
  const [, path] = input.split(/node_modules\/(?!.*node_modules\/)/);
  if (path === undefined) return 'recoverseg';
  const parts = path.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function compositionOf(metafile: Metafile): Composition {
  const output = Object.entries(metafile.outputs).find(([out]) => out.endsWith('.mjs'))![1];
  const bytes: Composition = {};
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
    bytes[origin(input)] = (bytes[origin(input)] ?? 0) + bytesInOutput;
  return Object.fromEntries(Object.entries(bytes).sort(([, a], [, b]) => b - a));
}

async function withEsbuild(dir: string): Promise<{
  bundles: Record<FunctionName, Bundle>;
  composition: Record<FunctionName, Composition>;
}> {
  const entries = await Promise.all(
    FUNCTION_NAMES.map(async (name) => {
      const path = join(dir, name, 'index.mjs');
      const { metafile } = await build({
        ...LAMBDA_BUNDLING,
        metafile: true,
        entryPoints: [join(ROOT, FUNCTIONS[name].entry)],
        outfile: path,
      });
      return { name, bundle: { path, bytes: statSync(path).size }, metafile: metafile! };
    }),
  );
  return {
    bundles: Object.fromEntries(entries.map((e) => [e.name, e.bundle])) as Record<
      FunctionName,
      Bundle
    >,
    composition: Object.fromEntries(
      entries.map((e) => [e.name, compositionOf(e.metafile)]),
    ) as Record<FunctionName, Composition>,
  };
}
