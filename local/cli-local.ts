import { resolve } from 'node:path';
import { deployedDefinition } from '#local/definition.ts';
import { runDemo } from '#local/demo.ts';
import { combine, progressObserver } from '#local/progress.ts';
import { startHttpApi } from '#local/http-server.ts';
import { LiveFeed } from '#local/web/live.ts';
import { printTable, terminalOut } from '#local/output.ts';
import { startLocalRuntime, type LocalRuntime, type LocalStore } from '#local/runtime.ts';
import { closeAbandonedRecoveries } from '#local/open-recoveries.ts';
import { route } from '#api/routes.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { clusterIdSchema } from '#domain/events.ts';
import { PhaseRecorder, runScenario, type Scenario } from '#local/scenario.ts';
import { UsageError } from '#local/cli-common.ts';

/**
 * What runs the workflow on this machine (demo, scenario, serve): loaded only by those
 * commands, so that the API's clients start fast.
 */
export { runDemo, terminalOut };

type Values = Record<string, string | undefined>;

/**
 * `serve --cluster-backend greenplum ...` as the environment the deployed handlers read
 * (clusterBackendFromEnv), validated before anything starts.
 */
export function realClusterEnvironment(values: Values): Record<string, string> | undefined {
  const backend = values['cluster-backend'] ?? 'simulated';
  const real = [
    'transport',
    'coordinator',
    'gphome',
    'coordinator-data-directory',
    'admin-user',
    'coordinator-port',
  ] as const;
  if (backend === 'simulated') {
    const stray = real.find((flag) => values[flag] !== undefined);
    if (stray)
      throw new UsageError(`--${stray} drives a real cluster: add --cluster-backend greenplum`);
    return undefined;
  }
  if (backend !== 'greenplum')
    throw new UsageError(`--cluster-backend ${backend}: expected simulated or greenplum`);
  if (values.transport !== 'local' && values.transport !== 'ssh')
    throw new UsageError('--cluster-backend greenplum needs --transport local or --transport ssh');
  if (!values.cluster) throw new UsageError('--cluster-backend greenplum needs --cluster ID');
  const env: Record<string, string> = {
    CLUSTER_BACKEND: values.transport,
    CLUSTER_ID: values.cluster,
    ...(values.coordinator ? { COORDINATOR_HOST: values.coordinator } : {}),
    ...(values.gphome ? { GPHOME: values.gphome } : {}),
    ...(values['coordinator-data-directory']
      ? { COORDINATOR_DATA_DIRECTORY: values['coordinator-data-directory'] }
      : {}),
    ...(values['admin-user'] ? { GP_ADMIN_USER: values['admin-user'] } : {}),
    ...(values['coordinator-port'] ? { COORDINATOR_PORT: values['coordinator-port'] } : {}),
  };
  try {
    clusterIdSchema.parse(values.cluster);
    clusterBackendFromEnv(undefined as never, undefined as never, env);
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
  return env;
}

/**
 * Registers a real cluster from its live catalog, read through the transport; a cluster
 * already on record is left as it is (the next run reconciles its log with the catalog).
 */
async function registerLiveCluster(
  runtime: LocalRuntime,
  clusterId: string,
  log: (line: string) => void,
): Promise<void> {
  const head = await runtime.stores.events.readHead(clusterId);
  if (head.lastSeq > 0) {
    log(
      `cluster ${clusterId} is on record (seq ${head.lastSeq}); its live catalog is reconciled by each run`,
    );
    return;
  }
  const operations = runtime.steps.cluster(clusterId);
  const version =
    operations instanceof GreenplumClusterOperations
      ? await operations.clusterVersion()
      : undefined;
  const { segments } = await operations.readConfiguration();
  const found = route({ method: 'POST', path: '/clusters', query: {}, body: undefined });
  if (!('handler' in found)) throw new Error('the API has no registration route');
  await found.handler(
    runtime.api,
    { method: 'POST', path: '/clusters', query: {}, body: { clusterId, segments } },
    {},
  );
  log(
    `registered cluster ${clusterId} from its live catalog: ${segments.length} rows${version ? ` (${version.text})` : ''}`,
  );
}

export async function scenarioCommand(
  scenario: Scenario,
  json: boolean,
  pollSeconds: number,
  store: LocalStore = {},
): Promise<number> {
  const out = terminalOut(json ? process.stderr : process.stdout);
  const recorder = new PhaseRecorder();
  const runtime = await startLocalRuntime({
    ...store,
    definition: deployedDefinition(),
    observer: combine(progressObserver(out), recorder),
  });
  recorder.attach(runtime);
  try {
    const report = await runScenario(runtime, recorder, scenario, {
      pollSeconds,
      log: (line) => out.line(line),
    });
    out.done();
    if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      for (const snapshot of report.snapshots)
        printTable(out, `phase ${snapshot.phase} (seq ${snapshot.seq})`, snapshot.configuration);
      out.line(
        report.outcome.status === 'succeeded'
          ? 'scenario succeeded'
          : `scenario FAILED: ${report.outcome.error}`,
      );
    }
    return report.outcome.status === 'succeeded' ? 0 : 1;
  } finally {
    await runtime.stop();
  }
}

export async function serveCommand(
  port: number,
  dataDir: string | undefined,
  realCluster: Record<string, string> | undefined,
  store: LocalStore = {},
): Promise<number> {
  // The dashboard's progress bars: what the workflow's polls see, kept for the live stream.
  const live = new LiveFeed();
  const runtime = await startLocalRuntime({
    ...store,
    definition: deployedDefinition(),
    observer: live,
    ...(dataDir ? { dataDir } : {}),
    ...(realCluster ? { realCluster } : {}),
  });
  live.attach(runtime.steps.cluster);
  if (realCluster)
    await registerLiveCluster(runtime, realCluster.CLUSTER_ID!, (line) =>
      process.stdout.write(`${line}\n`),
    ).catch(async (error) => {
      await runtime.stop();
      throw error;
    });
  // A serve that died (kill -9) left its recoveries open with no run: close them on record.
  for (const line of await closeAbandonedRecoveries(runtime)) process.stdout.write(`${line}\n`);
  const server = await startHttpApi(
    runtime.api,
    port,
    (line) => process.stderr.write(`${line}\n`),
    { live },
  ).catch(async (error) => {
    await runtime.stop();
    throw new UsageError((error as Error).message);
  });
  process.stdout.write(
    `recoverseg API and dashboard on http://127.0.0.1:${port} (DynamoDB Local ${runtime.endpoint}${dataDir ? `, data in ${resolve(dataDir)}` : store.endpoint ? ', already running' : ', in memory'}); Ctrl-C stops\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write('stopping\n');
  await new Promise((resolve) => server.close(resolve));
  await runtime.stop();
  return 0;
}
