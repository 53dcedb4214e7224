import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { build, type BuildOptions } from 'esbuild';
import { buildApp } from '#infra/build-app.ts';
import { LAMBDA_BUNDLING, type FunctionName } from '#infra/stack.ts';
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

export interface LambdaBundles {
  /** As deployed: the AWS SDK left to the runtime. */
  deployed: Record<FunctionName, Bundle>;
  deployedBy: string;
  /** The alternative: the same settings with the SDK bundled too. */
  sdkBundled: Record<FunctionName, Bundle & { credentialChainBytes: number }>;
  /** Where `@aws-sdk/*` resolves from, as the runtime's would: a node_modules beside them. */
  dir: string;
}

let built: Promise<LambdaBundles> | undefined;

/**
 * Every function bundled twice, once per process (bundles and cold start share them): as the
 * stack deploys it (`cdk synth`; with --quick, esbuild run directly with the stack's settings)
 * and with the SDK bundled, for comparison. Removed when the process exits.
 */
export function lambdaBundles(quick: boolean): Promise<LambdaBundles> {
  built ??= buildBoth(quick);
  return built;
}

async function buildBoth(quick: boolean): Promise<LambdaBundles> {
  const dir = mkdtempSync(join(tmpdir(), 'recoverseg-bench-bundles-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  log('bundles: building every function twice');
  const deployed = quick ? await withEsbuild(dir, 'deployed', true) : withCdk(dir);
  return {
    deployed,
    deployedBy: quick
      ? "esbuild run directly with the stack's settings (LAMBDA_BUNDLING, --quick)"
      : 'cdk synth (buildApp from infra/build-app.ts, NodejsFunction with local esbuild)',
    sdkBundled: await withEsbuild(dir, 'sdk-bundled', false),
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

/** The credential providers and the STS/SSO clients they use: the default chain's share. */
const CREDENTIAL_CHAIN =
  /node_modules\/@(aws-sdk|smithy)\/(credential-provider|nested-clients|token-providers)/;

async function withEsbuild(
  dir: string,
  variant: string,
  sdkExternal: boolean,
): Promise<Record<FunctionName, Bundle & { credentialChainBytes: number }>> {
  const entries = await Promise.all(
    FUNCTION_NAMES.map(async (name) => {
      const path = join(dir, variant, name, 'index.mjs');
      const { metafile } = await build({
        ...esbuildOptions(sdkExternal),
        entryPoints: [join(ROOT, FUNCTIONS[name].entry)],
        outfile: path,
      });
      const inputs = Object.entries(metafile!.outputs).find(([out]) => out.endsWith('.mjs'))![1]
        .inputs;
      const credentialChainBytes = Object.entries(inputs)
        .filter(([input]) => CREDENTIAL_CHAIN.test(input))
        .reduce((sum, [, { bytesInOutput }]) => sum + bytesInOutput, 0);
      return [name, { path, bytes: statSync(path).size, credentialChainBytes }] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<
    FunctionName,
    Bundle & { credentialChainBytes: number }
  >;
}

/** LAMBDA_BUNDLING as esbuild options, the way NodejsFunction passes them to esbuild. */
function esbuildOptions(sdkExternal: boolean): BuildOptions {
  const b = LAMBDA_BUNDLING;
  return {
    bundle: true,
    platform: 'node',
    format: b.format,
    target: b.target,
    mainFields: b.mainFields,
    minify: b.minify,
    sourcemap: b.sourceMap,
    sourcesContent: b.sourcesContent,
    tsconfig: b.tsconfig,
    ...(b.banner ? { banner: { js: b.banner } } : {}),
    external: sdkExternal ? ['@aws-sdk/*'] : [],
    metafile: true,
    logLevel: 'warning',
  };
}
