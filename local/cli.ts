import { hostname, userInfo } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { ApiClient, ApiError } from '#local/api-client.ts';
import { printHistory, printTable, terminalOut } from '#local/output.ts';
import { EXIT, followRecovery, statusInWords, type StatusBody } from '#local/follow.ts';
import { UsageError, integer, readJson } from '#local/cli-common.ts';
import { historyOf } from '#domain/render.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';

/** The commands that run the workflow here; their modules load only when one is asked for. */
const local = () => import('#local/cli-local.ts');

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
    const { parseScenario } = await import('#local/scenario.ts');
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
      throw new UsageError(`unknown command ${command}`);
  }
}

const CLIENT_HELP = `
Against a running API: --endpoint URL (default http://127.0.0.1:3000); an API Gateway endpoint
is called with SigV4 (the usual AWS credential chain).
Exit codes: 0 ok, 1 failed, 2 usage error or request refused (HTTP 4xx).`;

const RECOVER_HELP = `
Follows the run until it ends, printing its phases and progress (--detach: return at once).
Exit codes:
  0  the run ended: recovered, nothing to do, planned (--dry-run), or unbalanced (no approval
     or window came in time: redundant, roles switched, on record, not a failure)
  1  the run failed or was cancelled
  2  usage error, or the request was refused (HTTP 4xx)
  3  redundant again and waiting for rebalance approval: prints recoverseg approve --cluster ID
  4  another run holds the cluster (HTTP 409): prints which one and since when`;

/** Options every client command takes. */
function clientOptions(command: Command, json = true): Command {
  command
    .option(
      '--endpoint <url>',
      'the API (recoverseg serve, or API Gateway)',
      'http://127.0.0.1:3000',
    )
    .option('--cluster <id>', 'the cluster');
  if (json) command.option('--json', 'one JSON document on stdout, for machines');
  return command.addHelpText('after', CLIENT_HELP);
}

const policyOptions = (command: Command): Command =>
  command
    .addOption(
      new Option('--rebalance-policy <policy>', 'when gprecoverseg -r may run').choices([
        'immediate',
        'window',
        'approval',
        'never',
      ]),
    )
    .option(
      '--rebalance-window <window>',
      'the window of policy window, e.g. "Sun 02:00-04:00 UTC"',
    );

/** Commander's camelCase options back to the flags' own names (`--no-rebalance` included). */
function flags(options: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options))
    values[key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = value;
  if (values.rebalance === false) values['no-rebalance'] = true;
  delete values.rebalance;
  return values;
}

function program(run: (code: Promise<number>) => Promise<void>): Command {
  const root = new Command('recoverseg')
    .description(
      'Recovers failed Greenplum segments: the workflow locally (demo, scenario, serve) and a client of its API',
    )
    .usage('<command> [options]')
    .helpCommand(false)
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} });
  root
    .command('demo')
    .description('the seed incident end to end (npm start)')
    .action(() => run(local().then((m) => m.runDemo(m.terminalOut()))));
  root
    .command('scenario')
    .description(
      'run a scenario file: exit 0 ok, 1 failed recovery or expectation, 2 invalid scenario',
    )
    .argument('<file>', 'the scenario (JSON)')
    .option('--json', 'one document (snapshots, events, outcome) on stdout')
    .option('--poll-seconds <n>', 'the workflow waits between polls', '1')
    .action((file: string, o: Record<string, string | boolean | undefined>) =>
      run(
        local().then((m) =>
          m.scenarioCommand(
            file,
            Boolean(o.json),
            integer(o.pollSeconds as string, 'poll-seconds') ?? 1,
          ),
        ),
      ),
    );
  root
    .command('serve')
    .description('DynamoDB Local + the API and dashboard + the workflow, until Ctrl-C')
    .option('--port <n>', 'the API port', '3000')
    .option('--data <dir>', 'keep DynamoDB Local data in DIR (default: in memory)')
    .addOption(
      new Option('--cluster-backend <backend>', 'simulated, or drive a real cluster').choices([
        'simulated',
        'greenplum',
      ]),
    )
    .option('--cluster <id>', 'greenplum: the cluster, registered from its live catalog')
    .addOption(
      new Option('--transport <t>', 'greenplum: how to reach the coordinator').choices([
        'local',
        'ssh',
      ]),
    )
    .option('--coordinator <host>', 'greenplum: the coordinator host (ssh)')
    .option('--gphome <dir>', 'greenplum: GPHOME')
    .option('--coordinator-data-directory <dir>', 'greenplum: COORDINATOR_DATA_DIRECTORY')
    .option('--admin-user <user>', 'greenplum: the admin user (gpadmin)')
    .option('--coordinator-port <n>', 'greenplum: the coordinator port')
    .action((o: Record<string, string | undefined>) => {
      const values = flags(o) as Record<string, string | undefined>;
      return run(
        (async () => {
          const m = await local();
          return m.serveCommand(
            integer(values.port, 'port', 1) ?? 3000,
            values.data,
            m.realClusterEnvironment(values),
          );
        })(),
      );
    });
  const client = (name: string, description: string, json = true) =>
    clientOptions(root.command(name).description(description), json);
  policyOptions(
    client('register', 'register the cluster of a scenario or cluster file', false).argument(
      '<file>',
      'the scenario or cluster file (JSON)',
    ),
  ).action((file: string, o: Record<string, unknown>) =>
    run(clientCommand('register', flags(o), [file])),
  );
  client(
    'status',
    'gpstate -m / -e, the recovery in progress and the last incident, in words',
  ).action((o: Record<string, unknown>) => run(clientCommand('status', flags(o), [])));
  client('config', 'gp_segment_configuration (as of seq N)')
    .option('--seq <n>', 'as of this seq of the event log')
    .action((o: Record<string, unknown>) => run(clientCommand('config', flags(o), [])));
  client('events', 'the event log')
    .option('--after <n>', 'events after this seq', '0')
    .action((o: Record<string, unknown>) => run(clientCommand('events', flags(o), [])));
  client('history', 'gp_configuration_history lines').action((o: Record<string, unknown>) =>
    run(clientCommand('history', flags(o), [])),
  );
  policyOptions(
    client('recover', 'start a recovery and follow it to its end')
      .addOption(
        new Option('--type <type>', 'recovery type').choices([
          'auto',
          'incremental',
          'differential',
          'full',
        ]),
      )
      .option(
        '--target <old=new>',
        'rebuild the segments of a failed host on another (repeatable)',
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option('--no-rebalance', 'do not run gprecoverseg -r')
      .option('--dry-run', 'plan only')
      .option(
        '--incident <id>',
        'the incident id (default: api-<time>); an existing one is followed',
      )
      .option(
        '--poll-seconds <n>',
        'the workflow waits between polls (and this client between reads)',
      )
      .option('--detach', 'return at once with the API answer'),
  )
    .addHelpText('after', RECOVER_HELP)
    .action((o: Record<string, unknown>) => run(clientCommand('recover', flags(o), [])));
  client(
    'approve',
    'approve the rebalance (gprecoverseg -r, cancels queries in flight) of the recovery in progress',
    false,
  )
    .option('--by <name>', 'who approves (default user@host)')
    .action((o: Record<string, unknown>) => run(clientCommand('approve', flags(o), [])));
  client('cancel', 'stop the recovery in progress (a running gprecoverseg is never killed)', false)
    .option('--reason <text>', 'why, for the record')
    .option('--by <name>', 'who cancels (default user@host)')
    .action((o: Record<string, unknown>) => run(clientCommand('cancel', flags(o), [])));
  client('fail', 'inject a fault into a simulated cluster: --host H, or --dbid N [--kind]', false)
    .option('--host <host>', 'power the host off')
    .option('--dbid <n>', 'break one segment')
    .addOption(new Option('--kind <kind>', 'with --dbid').choices(['crash', 'disk-lost']))
    .action((o: Record<string, unknown>) => run(clientCommand('fail', flags(o), [])));
  for (const command of root.commands)
    command
      .exitOverride()
      .configureOutput({ writeErr: () => {}, outputError: () => {} })
      .showSuggestionAfterError(false);
  return root;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    let exitCode: number | undefined;
    // The action's promise is awaited by parseAsync: its errors reach the catch below.
    const root = program(async (code) => {
      exitCode = await code;
    });
    if (argv.length === 0) {
      process.stdout.write(root.helpInformation());
      return 2;
    }
    try {
      await root.parseAsync(argv, { from: 'user' });
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      if (error.exitCode === 0) return 0; // --help, printed by commander
      throw new UsageError(error.message.replace(/^error: /, ''));
    }
    if (exitCode === undefined) throw new UsageError('a command is needed: recoverseg --help');
    return exitCode;
  } catch (error) {
    if (
      error instanceof UsageError ||
      // Named, not imported: their modules load only with the commands that throw them.
      (error instanceof Error &&
        ['InvalidScenario', 'DynamoDbLocalUnavailable'].includes(error.name))
    ) {
      const e = error as Error;
      process.stderr.write(`recoverseg: ${e.message}\n`);
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
