import { Command, CommanderError, Option } from 'commander';
import { ApiError } from '#local/api-client.ts';
import { UsageError, integer, localStore, readJson } from '#local/cli-common.ts';

/**
 * Each command loads its modules when it is asked for: those that run the workflow here load
 * the local runtime, the API's clients only what talks to the API, `--help` neither.
 */
const local = () => import('#local/cli-local.ts');
const clientCommand = (command: string, values: Record<string, unknown>, positional: string[]) =>
  import('#local/client-commands.ts').then((m) => m.clientCommand(command, values, positional));

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

const recoveryPolicyOption = (command: Command): Command =>
  command.addOption(
    new Option(
      '--recovery-policy <policy>',
      'what the watcher does when it sees a failure: auto (start a recovery), notify (the default), off',
    ).choices(['auto', 'notify', 'off']),
  );

/** Where gpinitstandby creates a standby. */
const standbyOptions = (command: Command): Command =>
  command
    .option('--standby-host <host>', 'the new standby host (a catalog hostname)')
    .option('--standby-address <address>', 'its address (default: the host)')
    .option('--standby-port <n>', 'its port')
    .option('--standby-datadir <dir>', 'its data directory (must not exist; its parent must)');

/** Where a command that runs the workflow here keeps its tables. */
const storeOptions = (command: Command): Command =>
  command
    .option('--dynamodb-local <url>', 'a DynamoDB Local already running (default: start one)')
    .option(
      '--table-prefix <prefix>',
      "prefix the tables' names, so that several runs share one DynamoDB Local",
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
  storeOptions(root.command('demo').description('the seed incident end to end (npm start)')).action(
    (o: Record<string, string | undefined>) =>
      run(
        local().then((m) =>
          m.runDemo(m.terminalOut(), localStore(flags(o) as Record<string, string | undefined>)),
        ),
      ),
  );
  storeOptions(root.command('scenario'))
    .description(
      'run a scenario file: exit 0 ok, 1 failed recovery or expectation, 2 invalid scenario',
    )
    .argument('<file>', 'the scenario (JSON)')
    .option('--json', 'one document (snapshots, events, outcome) on stdout')
    .option('--poll-seconds <n>', 'the workflow waits between polls', '1')
    .action((file: string, o: Record<string, string | boolean | undefined>) =>
      run(
        (async () => {
          const store = localStore(flags(o) as Record<string, string | undefined>);
          const pollSeconds = integer(o.pollSeconds as string, 'poll-seconds') ?? 1;
          // Read and validated before the runtime loads: a bad file is refused in a blink.
          const { parseScenario } = await import('#local/scenario.ts');
          const scenario = parseScenario(readJson(file));
          const m = await local();
          return m.scenarioCommand(scenario, Boolean(o.json), pollSeconds, store);
        })(),
      ),
    );
  storeOptions(
    root
      .command('serve')
      .description(
        'DynamoDB Local + the API and dashboard + the workflow, until Ctrl-C or SIGTERM; one per --data DIR, which resumes the recoveries left open there',
      ),
  )
    .option('--port <n>', 'the API port', '3000')
    .addOption(
      new Option('--data <dir>', 'keep DynamoDB Local data in DIR (default: in memory)').conflicts(
        'dynamodbLocal',
      ),
    )
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
    .option(
      '--client-hook <command>',
      'greenplum: after a coordinator failover, run this (bash) with RECOVERSEG_COORDINATOR_HOST, _ADDRESS, _PORT, _DATADIR and _DBID set, to move clients to the new coordinator',
    )
    .option(
      '--watch-seconds <n>',
      'look at each cluster every N seconds (default 30) and act on a failure by its recovery policy; 0: never look',
    )
    .option(
      '--poll-seconds <n>',
      'the workflow waits between polls in the runs the watcher starts (default 30)',
    )
    .action((o: Record<string, string | undefined>) => {
      const values = flags(o) as Record<string, string | undefined>;
      return run(
        (async () => {
          const m = await local();
          return m.serveCommand(
            integer(values.port, 'port', 1) ?? 3000,
            values.data,
            await m.realClusterEnvironment(values),
            localStore(values),
            m.watching(values),
          );
        })(),
      );
    });
  root
    .command('rules')
    .description(
      'every decision table, rule by rule in the order they are read (pg_autoctl do fsm)',
    )
    .option('--json', 'the tables as one JSON document: name, question, reader, rules')
    .action((o: { json?: boolean }) =>
      run(
        import('#domain/rule-book.ts').then((m) => {
          process.stdout.write(
            o.json
              ? `${JSON.stringify(
                  m.RULE_BOOK.map((c) => ({
                    ...c,
                    rules: c.rules.map((r) => ({ rule: r.rule, then: r.then })),
                  })),
                  null,
                  2,
                )}\n`
              : m.renderRuleBook(),
          );
          return 0;
        }),
      ),
    );
  const client = (name: string, description: string, json = true) =>
    clientOptions(root.command(name).description(description), json);
  recoveryPolicyOption(
    policyOptions(
      client('register', 'register the cluster of a scenario or cluster file', false).argument(
        '<file>',
        'the scenario or cluster file (JSON)',
      ),
    ),
  ).action((file: string, o: Record<string, unknown>) =>
    run(clientCommand('register', flags(o), [file])),
  );
  standbyOptions(
    recoveryPolicyOption(
      policyOptions(
        client(
          'policy',
          "set a registered cluster's recovery policy (what the watcher does on a failure), rebalance policy and/or coordinator policy (with --standby-*: where a failover creates a new standby)",
          false,
        ),
      ),
    ),
  )
    .addOption(
      new Option(
        '--coordinator-policy <policy>',
        'when the coordinator is lost: approval (the default: an operator approves the activation), auto (only where a fence exists), off',
      ).choices(['approval', 'auto', 'off']),
    )
    .option(
      '--max-observation-age-seconds <n>',
      "with --coordinator-policy: how old the standby's last in-sync observation may be (default 60)",
    )
    .action((o: Record<string, unknown>) => run(clientCommand('policy', flags(o), [])));
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
  standbyOptions(
    client(
      'failover',
      'start a coordinator failover run: activate the standby if the coordinator is lost, the standby was seen in sync and the policy and fence allow (follow it with status); with --standby-*, create a new standby once activated',
      false,
    ),
  )
    .option('--incident <id>', 'the incident id (default: api-<time>)')
    .action((o: Record<string, unknown>) => run(clientCommand('failover', flags(o), [])));
  standbyOptions(
    client(
      'standby',
      'create a standby coordinator (gpinitstandby -a -s HOST -P PORT -S DIR on the coordinator); follow it with status',
      false,
    ),
  ).action((o: Record<string, unknown>) => run(clientCommand('standby', flags(o), [])));
  client(
    'approve',
    'approve what the run in progress waits for: the rebalance (gprecoverseg -r, cancels queries in flight), or a standby activation',
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
