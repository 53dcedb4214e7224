import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { FunctionName } from '#infra/stack.ts';
import { WORKFLOW_TASKS } from '#infra/tasks.ts';
import { NODE_24 } from '#test/infra/load-bundles.ts';
import { log, median, met, round, type BenchContext, type Figures } from './context.ts';
import { DEPLOYED_ENVIRONMENT, FUNCTION_NAMES, lambdaBundles } from './lambda-bundles.ts';

/** Import the handler module, as the runtime's init does; ms since the process started. */
const TIMED = `
  const cpu = process.cpuUsage();
  const start = performance.now();
  const { handler } = await import(process.argv[1]);
  const ready = performance.now();
  const { user, system } = process.cpuUsage(cpu);
  if (typeof handler !== 'function') throw new Error('no handler');
  const initCpuMs = (user + system) / 1000;
  console.log(JSON.stringify({ bootMs: start, initMs: ready - start, readyMs: ready, initCpuMs }));`;

interface Timed {
  bootMs: number;
  initMs: number;
  readyMs: number;
  initCpuMs: number;
}

/** The goal of issue 21: a workflow Task ready in 100 ms, the trigger in 150 ms. */
function goalMs(name: FunctionName): number | undefined {
  if (name in WORKFLOW_TASKS) return 100;
  return name === 'StartFromEvent' ? 150 : undefined;
}

/**
 * From a fresh Node 24 process to the handler being ready (import and module init), per
 * bundle as deployed: the median of several runs.
 */
export async function coldStart(context: BenchContext): Promise<Figures> {
  const { deployed, dir } = await lambdaBundles();
  const runs = context.quick ? 5 : 9;
  const timed = Object.fromEntries(FUNCTION_NAMES.map((name) => [name, [] as Timed[]])) as Record<
    FunctionName,
    Timed[]
  >;
  // Round-robin, so that a busy moment of the machine spreads over every function.
  for (let run = 0; run < runs; run++) {
    log(`cold start: run ${run + 1} of ${runs}`);
    for (const name of FUNCTION_NAMES) {
      const output = execFileSync(
        NODE_24,
        ['--input-type=module', '-e', TIMED, pathToFileURL(deployed[name].path).href],
        {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', ...DEPLOYED_ENVIRONMENT },
          encoding: 'utf8',
        },
      );
      timed[name].push(JSON.parse(output) as Timed);
    }
  }
  const ms = (xs: number[]) => round(median(xs), 1);
  const functions = Object.fromEntries(
    [...FUNCTION_NAMES].sort().map((name) => [
      name,
      {
        readyMs: ms(timed[name].map((r) => r.readyMs)),
        initMs: ms(timed[name].map((r) => r.initMs)),
        initCpuMs: ms(timed[name].map((r) => r.initCpuMs)),
        bytes: deployed[name].bytes,
        goalMs: goalMs(name) ?? null,
      },
    ]),
  ) as Record<
    FunctionName,
    { readyMs: number; initMs: number; initCpuMs: number; bytes: number; goalMs: number | null }
  >;
  const figures = {
    runs,
    node: execFileSync(NODE_24, ['--version'], { encoding: 'utf8' }).trim(),
    nodeBootMs: ms(FUNCTION_NAMES.flatMap((name) => timed[name].map((r) => r.bootMs))),
    functions,
    method: `A fresh process of the node devDependency (Node 24, as nodejs24.x) per run, with dummy AWS credentials and table names, as deployed with the SSM backend (CLUSTER_BACKEND=ssm: the Tasks that drive the cluster load it at init, and only it), imports the bundle as deployed (its entry, which imports its chunks; the AWS SDK inside them, no node_modules beside them) and checks its handler. readyMs: performance.now() when the import resolved, i.e. since the process started (nodeBootMs of it is Node's own start-up, up to the first line of the script); initMs: the import alone (loading, parsing, evaluating the bundle: module init, clients the handler builds at load); initCpuMs: the CPU time (user and system, every thread of the process) the import took, which a busy machine inflates less than the wall time. Median of ${runs} runs, round-robin over the functions. goalMs: issue 21's (every workflow Task 100 ms, StartFromEvent 150 ms). Local machine, no Lambda: compare the functions with each other, not with AWS's Init Duration.`,
  };
  log(`cold start: ${JSON.stringify(functions)}`);
  return {
    ...figures,
    readme: Object.entries(functions).map(([name, f]) => ({
      figure: `Cold start ${name} (Node 24, local)`,
      value: `ready ${round(f.readyMs)} ms (import ${round(f.initMs)} ms, CPU ${round(f.initCpuMs)} ms), ${round(f.bytes / 1024)} KiB loaded`,
      ...(f.goalMs === null ? {} : { target: `<= ${f.goalMs} ms: ${met(f.readyMs <= f.goalMs)}` }),
    })),
  };
}
