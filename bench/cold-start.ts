import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionName } from '#infra/stack.ts';
import { prefixedTableNames, tableEnvironment } from '#store/tables.ts';
import { ROOT, log, median, round, type BenchContext, type Figures } from './context.ts';
import { FUNCTION_NAMES, lambdaBundles, type Bundle } from './lambda-bundles.ts';

/** The nodejs24.x runtime's Node: the `node` devDependency. */
const NODE_24 = join(ROOT, 'node_modules/node/bin/node');

/** What the handlers read at init, with dummy values: nothing here reaches AWS. */
const ENVIRONMENT: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
  AWS_SESSION_TOKEN: 'example',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  ...tableEnvironment(prefixedTableNames('bench')),
  POWERTOOLS_SERVICE_NAME: 'recoverseg',
  POWERTOOLS_METRICS_NAMESPACE: 'recoverseg',
  CLUSTER_BACKEND: 'simulated',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:bench',
  NOTIFY_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:bench',
  // As the stack sets it: Node reads the bundle's source map when it loads the bundle.
  NODE_OPTIONS: '--enable-source-maps',
};

/** Import the handler module, as the runtime's init does; ms since the process started. */
const TIMED = `
  const start = performance.now();
  const { handler } = await import(process.argv[1]);
  const ready = performance.now();
  if (typeof handler !== 'function') throw new Error('no handler');
  console.log(JSON.stringify({ bootMs: start, initMs: ready - start, readyMs: ready }));`;

/** The same import under a load hook: how many modules, how many bytes, from the SDK. */
const COUNTED = `
  import { registerHooks } from 'node:module';
  const loaded = { modules: 0, bytes: 0, sdkModules: 0, sdkBytes: 0, sdk: new Set() };
  registerHooks({
    resolve(specifier, context, next) {
      if (specifier.startsWith('@aws-sdk/') && context.parentURL === process.argv[1])
        loaded.sdk.add(specifier);
      return next(specifier, context);
    },
    load(url, context, next) {
      const result = next(url, context);
      if (result.format === 'builtin') return result;
      const bytes = result.source == null ? 0 : Buffer.byteLength(result.source);
      loaded.modules++;
      loaded.bytes += bytes;
      if (url.includes('/node_modules/')) { loaded.sdkModules++; loaded.sdkBytes += bytes; }
      return result;
    },
  });
  await import(process.argv[1]);
  console.log(JSON.stringify({ ...loaded, sdk: [...loaded.sdk].sort() }));`;

/** Only the SDK packages a bundle imports, as it imports them (all at once). */
const SDK_ONLY = `
  const start = performance.now();
  await Promise.all(JSON.parse(process.argv[1]).map((specifier) => import(specifier)));
  console.log(JSON.stringify({ initMs: performance.now() - start }));`;

function node<T>(script: string, argument: string, cwd: string): T {
  return JSON.parse(
    execFileSync(NODE_24, ['--input-type=module', '-e', script, argument], {
      cwd,
      env: ENVIRONMENT,
      encoding: 'utf8',
    }),
  ) as T;
}

interface Timed {
  bootMs: number;
  initMs: number;
  readyMs: number;
}
interface Counted {
  modules: number;
  bytes: number;
  sdkModules: number;
  sdkBytes: number;
  sdk: string[];
}

/**
 * From a fresh Node 24 process to the handler being ready (import and module init), per
 * bundle, as deployed and with the SDK bundled: the median of several runs, and the init work
 * (modules and bytes loaded, and how much of the init is the runtime's SDK loading).
 */
export async function coldStart(context: BenchContext): Promise<Figures> {
  const { deployed, sdkBundled, dir } = await lambdaBundles(context.quick);
  const runs = context.quick ? 5 : 9;
  const url = (bundle: Bundle) => pathToFileURL(bundle.path).href;
  const counted = {} as Record<FunctionName, { deployed: Counted; sdkBundled: Counted }>;
  for (const name of FUNCTION_NAMES)
    counted[name] = {
      deployed: node<Counted>(COUNTED, url(deployed[name]), dir),
      sdkBundled: node<Counted>(COUNTED, url(sdkBundled[name]), dir),
    };
  const timed = Object.fromEntries(
    FUNCTION_NAMES.map((name) => [name, { deployed: [], sdkBundled: [], sdkOnly: [] }]),
  ) as unknown as Record<
    FunctionName,
    { deployed: Timed[]; sdkBundled: Timed[]; sdkOnly: { initMs: number }[] }
  >;
  // Round-robin, so that a busy moment of the machine spreads over every function.
  for (let run = 0; run < runs; run++) {
    log(`cold start: run ${run + 1} of ${runs}`);
    for (const name of FUNCTION_NAMES) {
      timed[name].deployed.push(node<Timed>(TIMED, url(deployed[name]), dir));
      timed[name].sdkBundled.push(node<Timed>(TIMED, url(sdkBundled[name]), dir));
      timed[name].sdkOnly.push(node(SDK_ONLY, JSON.stringify(counted[name].deployed.sdk), dir));
    }
  }
  const ms = (xs: number[]) => round(median(xs), 1);
  const functions = Object.fromEntries(
    [...FUNCTION_NAMES].sort().map((name) => {
      const t = timed[name];
      const c = counted[name];
      return [
        name,
        {
          deployed: {
            readyMs: ms(t.deployed.map((r) => r.readyMs)),
            initMs: ms(t.deployed.map((r) => r.initMs)),
            sdkInitMs: ms(t.sdkOnly.map((r) => r.initMs)),
            modules: c.deployed.modules,
            bytes: c.deployed.bytes,
            sdkModules: c.deployed.sdkModules,
            sdkBytes: c.deployed.sdkBytes,
            sdkPackages: c.deployed.sdk,
          },
          sdkBundled: {
            readyMs: ms(t.sdkBundled.map((r) => r.readyMs)),
            initMs: ms(t.sdkBundled.map((r) => r.initMs)),
            modules: c.sdkBundled.modules,
            bytes: c.sdkBundled.bytes,
          },
        },
      ];
    }),
  );
  const figures = {
    runs,
    node: execFileSync(NODE_24, ['--version'], { encoding: 'utf8' }).trim(),
    nodeBootMs: ms(FUNCTION_NAMES.flatMap((name) => timed[name].deployed.map((r) => r.bootMs))),
    functions,
    method: `A fresh process of the node devDependency (Node 24, as nodejs24.x) per run, with dummy AWS credentials, table names and the stack's NODE_OPTIONS (--enable-source-maps), imports the bundle and checks its handler. readyMs: performance.now() when the import resolved, i.e. since the process started (nodeBootMs of it is Node's own start-up, up to the first line of the script); initMs: the import alone (loading, parsing, evaluating the bundle and what it imports: module init, clients the handler builds at load). Median of ${runs} runs, round-robin over the functions. sdkInitMs: a fresh process importing only the @aws-sdk packages the bundle imports (from node_modules, where the runtime has its own copy: the runtime's SDK version and disk differ). modules/bytes: every non-builtin module loaded during the import and its source size, counted by a module.registerHooks load hook in a separate run (sdkModules/sdkBytes: those under node_modules). Local machine, no Lambda: compare the functions and the two variants, not with AWS's Init Duration.`,
  };
  log(`cold start: ${JSON.stringify(figures.functions)}`);
  return {
    ...figures,
    readme: Object.entries(functions).map(([name, { deployed: d, sdkBundled: b }]) => ({
      figure: `Cold start ${name} (Node 24, local)`,
      value: `ready ${round(d.readyMs)} ms, import ${round(d.initMs)} ms (SDK alone ${round(d.sdkInitMs)} ms), ${d.modules} modules, ${round(d.bytes / 1024)} KiB; SDK bundled: ready ${round(b.readyMs)} ms, import ${round(b.initMs)} ms`,
    })),
  };
}
