import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { ApiClient, ApiError } from '#local/api-client.ts';
import { deployedDefinition } from '#local/definition.ts';
import { runDemo, combine, progressObserver } from '#local/demo.ts';
import { DynamoDbLocalUnavailable } from '#local/dynamodb-local.ts';
import { startHttpApi } from '#local/http-server.ts';
import { LiveFeed } from '#local/web/live.ts';
import { printHistory, printTable, terminalOut } from '#local/output.ts';
import { EXIT, followRecovery, statusInWords, type StatusBody } from '#local/follow.ts';
import { historyOf } from '#domain/render.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { closeAbandonedRecoveries } from '#local/open-recoveries.ts';
import { route } from '#api/routes.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { clusterIdSchema } from '#domain/events.ts';
import { InvalidScenario, PhaseRecorder, parseScenario, runScenario } from '#local/scenario.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';

const USAGE = `usage: recoverseg <command> [options]

  demo                              the seed incident end to end (npm start)
  scenario FILE [--json]            run a scenario file; exit 0 ok, 1 failed, 2 invalid
  serve [--port N] [--data DIR]     DynamoDB Local + the API + the workflow, until Ctrl-C
        [--cluster-backend greenplum --cluster ID --transport local|ssh [--coordinator HOST]
         [--gphome DIR] [--coordinator-data-directory DIR] [--admin-user U] [--coordinator-port N]]
                                    drive a real cluster: registered from its live catalog

  against a running API (--endpoint URL, default http://127.0.0.1:3000; SigV4 for API Gateway):
  register FILE [--rebalance-policy P [--rebalance-window W]]
                                    register the cluster of a scenario file
  status  --cluster ID              gpstate -m / -e, recovery in progress
  config  --cluster ID [--seq N]    gp_segment_configuration (as of seq N)
  events  --cluster ID [--after N]  the event log
  history --cluster ID              gp_configuration_history lines
  recover --cluster ID [--type auto|incremental|differential|full] [--target OLD=NEW]
          [--no-rebalance] [--dry-run] [--incident ID] [--poll-seconds N]
          [--rebalance-policy immediate|window|approval|never] [--rebalance-window "Sun 02:00-04:00 UTC"]
  approve --cluster ID [--by NAME]  approve the rebalance (gprecoverseg -r) of the recovery in progress
  cancel  --cluster ID [--reason R] [--by NAME]
                                    stop the recovery in progress (a running gprecoverseg is never killed)
  fail    --cluster ID (--host H | --dbid N [--kind crash|disk-lost])`;

/** Wrong usage or input: one line, exit 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

const options = {
  json: { type: 'boolean' },
  detach: { type: 'boolean' },
  port: { type: 'string' },
  data: { type: 'string' },
  endpoint: { type: 'string' },
  cluster: { type: 'string' },
  seq: { type: 'string' },
  after: { type: 'string' },
  type: { type: 'string' },
  target: { type: 'string', multiple: true },
  'no-rebalance': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  incident: { type: 'string' },
  'poll-seconds': { type: 'string' },
  'rebalance-policy': { type: 'string' },
  'rebalance-window': { type: 'string' },
  by: { type: 'string' },
  reason: { type: 'string' },
  host: { type: 'string' },
  dbid: { type: 'string' },
  kind: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'cluster-backend': { type: 'string' },
  transport: { type: 'string' },
  coordinator: { type: 'string' },
  gphome: { type: 'string' },
  'coordinator-data-directory': { type: 'string' },
  'admin-user': { type: 'string' },
  'coordinator-port': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];

/**
 * `serve --cluster-backend greenplum ...` as the environment the deployed handlers read
 * (clusterBackendFromEnv), validated before anything starts.
 */
function realClusterEnvironment(values: Values): Record<string, string> | undefined {
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

/** `--rebalance-policy` and `--rebalance-window` as the API's fields. */
function policyFlags(values: Record<string, unknown>): Record<string, string> {
  return {
    ...(values['rebalance-policy']
      ? { rebalancePolicy: values['rebalance-policy'] as string }
      : {}),
    ...(values['rebalance-window']
      ? { rebalanceWindow: values['rebalance-window'] as string }
      : {}),
  };
}

/** Who the operator is, for the record: user@host. */
function operatorName(): string {
  return `${userInfo().username}@${hostname()}`;
}

function integer(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`--${flag} ${value}: expected a whole number >= ${min}`);
  return Number(value);
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidScenario(`${file}: not JSON (${(error as Error).message})`);
  }
}

async function scenarioCommand(file: string, json: boolean, pollSeconds: number): Promise<number> {
  const scenario = parseScenario(readJson(file));
  const out = terminalOut(json ? process.stderr : process.stdout);
  const recorder = new PhaseRecorder();
  const runtime = await startLocalRuntime({
    definition: await deployedDefinition(),
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

async function serveCommand(
  port: number,
  dataDir: string | undefined,
  realCluster: Record<string, string> | undefined,
): Promise<number> {
  // The dashboard's progress bars: what the workflow's polls see, kept for the live stream.
  const live = new LiveFeed();
  const runtime = await startLocalRuntime({
    definition: await deployedDefinition(),
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
    `recoverseg API and dashboard on http://127.0.0.1:${port} (DynamoDB Local ${runtime.endpoint}${dataDir ? `, data in ${dataDir}` : ', in memory'}); Ctrl-C stops\n`,
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

async function clientCommand(
  command: string,
  values: Record<string, unknown>,
  positional: string[],
): Promise<number> {
  const client = new ApiClient((values.endpoint as string | undefined) ?? 'http://127.0.0.1:3000');
  const out = terminalOut();
  if (command === 'register') {
    const file = positional[0];
    if (!file) throw new UsageError('register needs a scenario or cluster file');
    const scenario = parseScenario({ steps: [], ...(readJson(file) as object) });
    const result = await client.request('POST', '/clusters', {
      clusterId: scenario.cluster,
      segments: scenario.segments,
      ...(scenario.simulation ? { simulation: scenario.simulation } : {}),
      ...policyFlags(values),
    });
    out.line(JSON.stringify(result));
    return 0;
  }
  const cluster = values.cluster as string | undefined;
  if (!cluster) throw new UsageError(`${command} needs --cluster ID`);
  const base = `/clusters/${encodeURIComponent(cluster)}`;
  switch (command) {
    case 'status': {
      const status = (await client.request('GET', `${base}/status`)) as StatusBody;
      if (values.json) {
        process.stdout.write(`${JSON.stringify(status)}\n`);
        return 0;
      }
      for (const line of statusInWords(status)) out.line(line);
      out.line();
      for (const line of [...status.gpstateMirrors, '', ...status.gpstateErrors]) out.line(line);
      return 0;
    }
    case 'config': {
      const seq = integer(values.seq as string | undefined, 'seq');
      const config = (await client.request(
        'GET',
        `${base}/configuration`,
        undefined,
        seq === undefined ? {} : { seq: String(seq) },
      )) as { seq: number; rows: SegmentRow[] };
      if (values.json) {
        process.stdout.write(`${JSON.stringify(config)}\n`);
        return 0;
      }
      printTable(out, `cluster ${cluster} at seq ${config.seq}`, config.rows);
      return 0;
    }
    case 'events':
    case 'history': {
      const events: RecordedEvent[] = [];
      let after: number | null =
        command === 'events' ? (integer(values.after as string | undefined, 'after') ?? 0) : 0;
      while (after !== null) {
        const page = (await client.request('GET', `${base}/events`, undefined, {
          after: String(after),
          limit: '1000',
        })) as { events: RecordedEvent[]; next: number | null };
        events.push(...page.events);
        after = page.next;
      }
      if (values.json)
        process.stdout.write(
          `${JSON.stringify(command === 'history' ? { clusterId: cluster, history: historyOf(events) } : { clusterId: cluster, events })}\n`,
        );
      else if (command === 'history') printHistory(out, events);
      else
        for (const e of events)
          out.line(`${String(e.seq).padStart(6)} ${e.at} ${e.type} ${JSON.stringify(e.data)}`);
      return 0;
    }
    case 'recover': {
      const targetHosts = Object.fromEntries(
        ((values.target as string[] | undefined) ?? []).map((t) => {
          const [from, to] = t.split('=');
          if (!from || !to) throw new UsageError(`--target ${t}: expected FAILED_HOST=NEW_HOST`);
          return [from, to];
        }),
      );
      const pollSeconds = integer(values['poll-seconds'] as string | undefined, 'poll-seconds');
      const json = Boolean(values.json);
      // Where the run starts in the log: the projection's seq is never ahead of the log.
      const before = values.detach
        ? 0
        : ((await client.request('GET', `${base}/status`)) as { seq: number }).seq;
      let result: { incidentId: string; alreadyStarted: boolean };
      try {
        result = (await client.request('POST', `${base}/recoveries`, {
          ...(values.type ? { type: values.type } : {}),
          targetHosts,
          rebalance: !values['no-rebalance'],
          dryRun: Boolean(values['dry-run']),
          ...(values.incident ? { incidentId: values.incident } : {}),
          ...policyFlags(values),
          ...(pollSeconds !== undefined
            ? {
                waits: {
                  pollSeconds,
                  approvalPollSeconds: Math.min(3600, Math.max(pollSeconds, 1) * 10),
                },
              }
            : {}),
          trigger: { source: 'cli' },
        })) as { incidentId: string; alreadyStarted: boolean };
      } catch (error) {
        // Another run holds the cluster: not a mistake in the command; wait, follow or cancel it.
        if (
          error instanceof ApiError &&
          error.status === 409 &&
          (error.code === 'ClusterBusy' || error.code === 'ClusterLocked')
        ) {
          process.stderr.write(`recoverseg: HTTP 409: ${error.message}\n`);
          return EXIT.busy;
        }
        throw error;
      }
      if (values.detach) {
        out.line(JSON.stringify(result));
        return 0;
      }
      const progress = terminalOut(json ? process.stderr : process.stdout);
      const followed = await followRecovery(client, cluster, result.incidentId, progress, {
        // A run already started may have begun anywhere in the log.
        afterSeq: result.alreadyStarted ? 0 : before,
        pollMs: Math.max(100, (pollSeconds ?? 2) * 1000),
      });
      if (json) process.stdout.write(`${JSON.stringify({ ...result, ...followed })}\n`);
      return followed.exitCode;
    }
    case 'cancel': {
      const result = (await client.request('POST', `${base}/cancellation`, {
        by: (values.by as string | undefined) ?? operatorName(),
        ...(values.reason ? { reason: values.reason } : {}),
      })) as { incidentId: string; gprecoverseg: { detail: string } };
      out.line(`cancelled incident ${result.incidentId}; ${result.gprecoverseg.detail}`);
      return 0;
    }
    case 'approve': {
      const result = await client.request('POST', `${base}/rebalance-approval`, {
        by: (values.by as string | undefined) ?? operatorName(),
      });
      out.line(JSON.stringify(result));
      return 0;
    }
    case 'fail': {
      const dbid = integer(values.dbid as string | undefined, 'dbid', 1);
      const fault = values.host
        ? { host: values.host }
        : dbid !== undefined
          ? { dbid, ...(values.kind ? { kind: values.kind } : {}) }
          : undefined;
      if (!fault) throw new UsageError('fail needs --host H or --dbid N');
      out.line(JSON.stringify(await client.request('POST', `${base}/faults`, fault)));
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${command}\n${USAGE}`);
  }
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, ...rest] = positionals;
    if (values.help || !command) {
      process.stdout.write(`${USAGE}\n`);
      return command || values.help ? 0 : 2;
    }
    const pollSeconds = integer(values['poll-seconds'], 'poll-seconds') ?? 1;
    if (command === 'demo') return await runDemo(terminalOut());
    if (command === 'scenario') {
      if (!rest[0]) throw new UsageError('scenario needs a FILE');
      return await scenarioCommand(rest[0], Boolean(values.json), pollSeconds);
    }
    if (command === 'serve')
      return await serveCommand(
        integer(values.port, 'port', 1) ?? 3000,
        values.data,
        realClusterEnvironment(values),
      );
    return await clientCommand(command, values, rest);
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof InvalidScenario ||
      error instanceof DynamoDbLocalUnavailable
    ) {
      process.stderr.write(`recoverseg: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ApiError) {
      process.stderr.write(
        `recoverseg: ${error.status ? `HTTP ${error.status}: ` : ''}${error.message}\n`,
      );
      return error.status >= 400 && error.status < 500 ? 2 : 1;
    }
    process.stderr.write(`recoverseg: ${(error as Error).name}: ${(error as Error).message}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('local/cli.ts')) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
