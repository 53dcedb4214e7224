import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import type { Metafile } from 'esbuild';
import { bundleFunctions } from '#infra/lambda-code.ts';
import type { FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';
import { prefixedTableNames, tableEnvironment } from '#store/tables.ts';
import { loadInNode24 } from '#test/infra/load-bundles.ts';
import { ROOT, log } from './context.ts';

export const FUNCTIONS = { ...WORKFLOW_TASKS, ...SERVICE_FUNCTIONS } as Record<
  FunctionName,
  { entry: string }
>;
export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

export interface Bundle {
  /** The entry, `<name>.mjs`, its chunks and source maps beside it. */
  path: string;
  /** What every cold start loads (DEPLOYED_ENVIRONMENT): the entry, its chunks, the backend's. */
  bytes: number;
  /** The chunks loaded only when first called (source maps not counted). */
  lazyBytes: number;
}

/** Where a bundle's bytes come from: the package (or recoverseg's own code) of each input. */
export type Composition = Record<string, number>;

export interface LambdaBundles {
  deployed: Record<FunctionName, Bundle>;
  /** Bytes loaded at init by origin, from esbuild's metafiles (shares: see compositionOf). */
  composition: Record<FunctionName, Composition>;
  /** The directory holding them, nothing else: no node_modules for a bundle to reach. */
  dir: string;
}

/**
 * What the handlers read at init, as deployed with the SSM backend (a real cluster), with dummy
 * values: nothing here reaches AWS.
 */
export const DEPLOYED_ENVIRONMENT: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
  AWS_SESSION_TOKEN: 'example',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  ...tableEnvironment(prefixedTableNames('bench')),
  POWERTOOLS_SERVICE_NAME: 'recoverseg',
  POWERTOOLS_METRICS_NAMESPACE: 'recoverseg',
  CLUSTER_BACKEND: 'ssm',
  CLUSTER_ID: 'bench',
  COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
  RUN_COMMAND_OUTPUT_BUCKET: 'bench-run-command-output',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:bench',
  NOTIFY_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:bench',
};

let built: Promise<LambdaBundles> | undefined;

/**
 * Every function bundled once per process (bundles and cold start share them) by the stack's
 * own esbuild passes (bundleFunctions, which `cdk synth` stages as each function's asset), each in
 * a directory of its own as deployed. Removed when the process exits.
 */
export function lambdaBundles(): Promise<LambdaBundles> {
  built ??= Promise.resolve().then(buildAll);
  return built;
}

function buildAll(): LambdaBundles {
  const dir = mkdtempSync(join(tmpdir(), 'recoverseg-bench-bundles-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  log('bundles: building every function');
  const { files, linked, split } = bundleFunctions(FUNCTIONS, join(dir, 'lambdas'));
  const entries = FUNCTION_NAMES.map((name) => {
    const asset = join(dir, name);
    mkdirSync(asset);
    for (const file of files.get(name)!)
      writeFileSync(join(asset, basename(file.path)), file.contents);
    return join(asset, `${name}.mjs`);
  });
  // What init loads is known only by loading: the backend CLUSTER_BACKEND names is a dynamic
  // import, awaited at init.
  const loaded = loadInNode24(entries, DEPLOYED_ENVIRONMENT, false);
  const deployed = {} as Record<FunctionName, Bundle>;
  const composition = {} as Record<FunctionName, Composition>;
  for (const [i, name] of FUNCTION_NAMES.entries()) {
    const metafile = linked[name];
    const output = (file: string) => relative(ROOT, join(dir, 'lambdas', file));
    const atInit = loaded[i]!.atInit.files.map(output);
    const bytes = (outputs: string[]) =>
      outputs.reduce((sum, output) => sum + metafile.outputs[output]!.bytes, 0);
    const lazy = files
      .get(name)!
      .map((file) => relative(ROOT, file.path))
      .filter((output) => output.endsWith('.mjs') && !atInit.includes(output));
    deployed[name] = {
      path: entries[i]!,
      bytes: bytes(atInit),
      lazyBytes: bytes(lazy),
    };
    composition[name] = compositionOf(split, metafile, atInit);
  }
  return { deployed, composition, dir };
}

/** `node_modules/@aws-sdk/client-ssm/dist-es/…` -> `@aws-sdk/client-ssm`; else `recoverseg`. */
function origin(input: string): string {
  const [, path] = input.split(/node_modules\/(?!.*node_modules\/)/);
  if (path === undefined) return 'recoverseg';
  const parts = path.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * The bytes of `outputs` (of a function's linked pass) by package. Their inputs are the first
 * pass's chunks: each chunk's bytes in an output are shared out as that chunk is made of
 * packages (the first pass's metafile), so the figures are the packages' shares, not exact.
 */
function compositionOf(split: Metafile, linked: Metafile, outputs: string[]): Composition {
  const bytes: Composition = {};
  for (const output of outputs)
    for (const [chunk, { bytesInOutput }] of Object.entries(linked.outputs[output]!.inputs)) {
      const parts = Object.entries(split.outputs[chunk]?.inputs ?? {});
      const total = parts.reduce((sum, [, part]) => sum + part.bytesInOutput, 0);
      if (total === 0) continue;
      for (const [input, part] of parts)
        bytes[origin(input)] =
          (bytes[origin(input)] ?? 0) + (bytesInOutput * part.bytesInOutput) / total;
    }
  return Object.fromEntries(
    Object.entries(bytes)
      .map(([origin, n]) => [origin, Math.round(n)] as const)
      .sort(([, a], [, b]) => b - a),
  );
}
