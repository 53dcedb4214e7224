import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { deployedDefinition } from '#local/definition.ts';
import { runDemo } from '#local/demo.ts';
import { combine, progressObserver } from '#local/progress.ts';
import { startHttpApi } from '#local/http-server.ts';
import { LiveFeed } from '#local/web/live.ts';
import { printTable, terminalOut } from '#local/output.ts';
import { startLocalRuntime, type LocalRuntime, type LocalStore } from '#local/runtime.ts';
import { catchUpProjections, resumeOpenRecoveries } from '#local/open-recoveries.ts';
import { RunJournal } from '#local/run-journal.ts';
import { ServeLock } from '#local/serve-lock.ts';
import { LocalWatcher, loggingNotifier } from '#local/watcher.ts';
import type { LeftRun } from '#local/workflow-runner.ts';
import { route } from '#api/routes.ts';
import { CLIENT_HOOK_ENV } from '#cluster/client-hook.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { clusterIdSchema } from '#domain/events.ts';
import { runPhase } from '#domain/decisions.ts';
import { PhaseRecorder, runScenario, type Scenario } from '#local/scenario.ts';
import { UsageError, integer } from '#local/cli-common.ts';

/**
 * What runs the workflow on this machine (demo, scenario, serve): loaded only by those
 * commands, so that the API's clients start fast.
 */
export { runDemo, terminalOut };

type Values = Record<string, string | undefined>;

/**
 * `serve --cluster-backend greenplum ...` as the environment the deployed handlers read
 * (loadClusterBackend), validated before anything starts.
 */
export async function realClusterEnvironment(
  values: Values,
): Promise<Record<string, string> | undefined> {
  const backend = values['cluster-backend'] ?? 'simulated';
  const real = [
    'transport',
    'coordinator',
    'gphome',
    'coordinator-data-directory',
    'admin-user',
    'coordinator-port',
    'client-hook',
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
    ...(values['client-hook'] ? { [CLIENT_HOOK_ENV]: values['client-hook'] } : {}),
  };
  const build = await loadClusterBackend(env);
  try {
    clusterIdSchema.parse(values.cluster);
    build(undefined as never, undefined as never);
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

/** Where serve's tables live, and so what becomes of a run it stops. */
type TablesKept = 'data' | 'endpoint' | 'memory';

const LEFT_RUN_RESUMED_BY: Record<TablesKept, (dataDir: string | undefined) => string> = {
  data: (dataDir) => `recoverseg serve --data ${resolve(dataDir!)} resumes it`,
  endpoint: () => 'a recoverseg serve on the same --dynamodb-local and --table-prefix resumes it',
  memory: () => 'its record goes with this in-memory DynamoDB Local',
};

/** One line per run a stopping serve left: which incident, where it stopped, who resumes it. */
async function leftRunLine(
  runtime: LocalRuntime,
  run: LeftRun,
  resumedBy: string,
): Promise<string> {
  const phase = await runtime.stores.events
    .loadState(run.clusterId)
    .then((state) => runPhase(state))
    .catch(() => undefined);
  return `left incident ${run.incidentId} of cluster ${run.clusterId}${phase ? ` in phase ${phase}` : ''} (state ${run.state}), not failed: ${resumedBy}`;
}

/** `serve --watch-seconds`' default: a failure is seen within half a minute of FTS marking it. */
export const DEFAULT_WATCH_SECONDS = 30;

/** How serve's watcher looks, and how the runs it starts poll. */
export interface Watching {
  seconds: number;
  /** The workflow's poll of the runs the watcher starts; its default (30 s) when absent. */
  pollSeconds?: number;
}

/**
 * `--watch-seconds N` (0, off, to a day: a timer cannot wait much longer) and
 * `--poll-seconds N` (the workflow's own bound, an hour).
 */
export function watching(values: Record<string, string | undefined>): Watching {
  const seconds = integer(values['watch-seconds'], 'watch-seconds') ?? DEFAULT_WATCH_SECONDS;
  if (seconds > 86_400)
    throw new UsageError(
      `--watch-seconds ${seconds}: expected at most 86400 (a day); 0 turns watching off`,
    );
  const pollSeconds = integer(values['poll-seconds'], 'poll-seconds');
  if (pollSeconds !== undefined && pollSeconds > 3600)
    throw new UsageError(`--poll-seconds ${pollSeconds}: expected at most 3600`);
  return { seconds, ...(pollSeconds === undefined ? {} : { pollSeconds }) };
}

/**
 * The watcher of serve: the WatchCluster step on a timer, over `clusters`, starting runs
 * through the same starter as the API.
 */
export function localWatcher(
  runtime: LocalRuntime,
  { seconds, pollSeconds }: Watching,
  clusters: () => Promise<string[]>,
  out: (line: string) => void,
): LocalWatcher {
  return new LocalWatcher({
    seconds,
    deps: {
      ...(pollSeconds === undefined
        ? {}
        : {
            // As `recover --poll-seconds` does: approvals are polled ten times less often.
            waits: {
              pollSeconds,
              approvalPollSeconds: Math.min(3600, Math.max(pollSeconds, 1) * 10),
            },
          }),
      stores: {
        events: runtime.stores.events,
        lock: runtime.stores.lock,
        standby: runtime.stores.standby,
      },
      cluster: runtime.steps.cluster,
      starter: runtime.workflow,
      notifier: loggingNotifier(out),
      now: () => new Date(),
    },
    clusters,
    log: out,
  });
}

/** Resolves on the first SIGINT or SIGTERM; a second one ends the process at once. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * `serve`: one per data directory (serve.lock), the projections brought to the log's head,
 * every recovery the log shows open resumed, then the API until SIGINT or SIGTERM. Stopping
 * aborts the runs at once, records nothing of them, and says where each was left.
 */
export async function serveCommand(
  port: number,
  dataDir: string | undefined,
  realCluster: Record<string, string> | undefined,
  store: LocalStore = {},
  watching: Watching = { seconds: DEFAULT_WATCH_SECONDS },
): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const lock = dataDir === undefined ? undefined : ServeLock.acquire(dataDir, port);
  try {
    if (lock?.tookOver)
      out(
        `data directory ${resolve(dataDir!)}: its serve (PID ${lock.tookOver.pid}, since ${lock.tookOver.startedAt}) is gone; taken over`,
      );
    const journal =
      dataDir === undefined ? undefined : new RunJournal(join(resolve(dataDir), 'serve-runs'));
    const kept: TablesKept = dataDir ? 'data' : store.endpoint ? 'endpoint' : 'memory';
    // The dashboard's progress bars: what the workflow's polls see, kept for the live stream.
    const live = new LiveFeed();
    const runtime = await startLocalRuntime({
      ...store,
      definition: deployedDefinition(),
      observer: live,
      ...(dataDir ? { dataDir } : {}),
      ...(realCluster ? { realCluster } : {}),
      ...(journal ? { inputs: journal } : {}),
    });
    let server: Server | undefined;
    let watcher: LocalWatcher | undefined;
    try {
      lock?.update({ dynamodbPort: Number(new URL(runtime.endpoint).port) });
      live.attach(runtime.steps.cluster);
      if (realCluster) await registerLiveCluster(runtime, realCluster.CLUSTER_ID!, out);
      for (const line of await catchUpProjections(runtime.stores)) out(line);
      for (const line of await resumeOpenRecoveries(runtime, journal)) out(line);
      watcher =
        watching.seconds > 0
          ? localWatcher(
              runtime,
              watching,
              // The real cluster this serve drives, or every simulated one registered.
              realCluster
                ? async () => [realCluster.CLUSTER_ID!]
                : () => runtime.stores.events.clusterIds(),
              out,
            )
          : undefined;
      server = await startHttpApi(
        { ...runtime.api, ...(watcher ? { lastLook: (id) => watcher!.lastLook(id) } : {}) },
        port,
        (line) => process.stderr.write(`${line}\n`),
        { live },
      ).catch((error: Error) => {
        throw new UsageError(error.message);
      });
      watcher?.start();
      out(
        `recoverseg API and dashboard on http://127.0.0.1:${port} (DynamoDB Local ${runtime.endpoint}${dataDir ? `, data in ${resolve(dataDir)}` : store.endpoint ? ', already running' : ', in memory'}); ${watcher ? `watching every ${watching.seconds} s` : 'not watching (--watch-seconds 0)'}; Ctrl-C stops`,
      );
      await stopSignal();
      out('stopping');
    } finally {
      // First, so that no look starts a run while the runs are being stopped.
      await watcher?.stop();
      server?.close();
      server?.closeAllConnections();
      for (const run of await runtime.workflow.shutdown())
        out(await leftRunLine(runtime, run, LEFT_RUN_RESUMED_BY[kept](dataDir)));
      await runtime.stop();
    }
    return 0;
  } finally {
    lock?.release();
  }
}
