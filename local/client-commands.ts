import { hostname, userInfo } from 'node:os';
import { ApiClient, ApiError } from '#local/api-client.ts';
import { EXIT, followRecovery, statusInWords, type StatusBody } from '#local/follow.ts';
import { printHistory, printTable, terminalOut } from '#local/output.ts';
import { UsageError, integer, readJson } from '#local/cli-common.ts';
import { historyOf } from '#domain/render.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';

/** `--standby-host/-address/-port/-datadir` as the API's `standby`; all three or none. */
function standbyFlags(values: Record<string, unknown>) {
  const host = values['standby-host'] as string | undefined;
  const port = values['standby-port'] as string | undefined;
  const datadir = values['standby-datadir'] as string | undefined;
  if (host === undefined && port === undefined && datadir === undefined) return undefined;
  if (!host || !port || !datadir)
    throw new UsageError('--standby-host, --standby-port and --standby-datadir go together');
  if (!/^\d{1,5}$/.test(port))
    throw new UsageError(`--standby-port ${port}: expected a port number`);
  const address = (values['standby-address'] as string | undefined) ?? host;
  return { hostname: host, address, port: Number(port), datadir };
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

/** One command against the API (`recoverseg serve` or API Gateway); returns the exit code. */
export async function clientCommand(
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
      ...(values['recovery-policy'] ? { recoveryPolicy: values['recovery-policy'] } : {}),
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
    case 'failover':
    case 'standby': {
      const standby = standbyFlags(values);
      if (command === 'standby' && !standby)
        throw new UsageError('standby needs --standby-host, --standby-port and --standby-datadir');
      const result = await client.request('POST', `${base}/recoveries`, {
        kind: command === 'standby' ? 'standby' : 'coordinator',
        ...(standby ? { standby } : {}),
        ...(values.incident ? { incidentId: values.incident } : {}),
        trigger: { source: 'cli' },
      });
      out.line(JSON.stringify(result));
      return 0;
    }
    case 'policy': {
      const rebalance = policyFlags(values);
      const recovery = values['recovery-policy'] as string | undefined;
      const coordinator = values['coordinator-policy'] as string | undefined;
      const age = values['max-observation-age-seconds'] as string | undefined;
      if (age !== undefined && !coordinator)
        throw new UsageError('--max-observation-age-seconds goes with --coordinator-policy');
      if (standbyFlags(values) && !coordinator)
        throw new UsageError(
          '--standby-host, --standby-port and --standby-datadir go with --coordinator-policy',
        );
      if (age !== undefined && !/^\d{1,4}$/.test(age))
        throw new UsageError(`--max-observation-age-seconds ${age}: expected seconds (1 to 3600)`);
      if (!recovery && !coordinator && Object.keys(rebalance).length === 0)
        throw new UsageError(
          'policy needs --recovery-policy, --rebalance-policy and/or --coordinator-policy',
        );
      if (coordinator)
        out.line(
          JSON.stringify(
            await client.request('PUT', `${base}/coordinator-policy`, {
              coordinatorPolicy: coordinator,
              ...(age !== undefined ? { maxObservationAgeSeconds: Number(age) } : {}),
              ...(standbyFlags(values) ? { newStandby: standbyFlags(values) } : {}),
              by: operatorName(),
            }),
          ),
        );
      if (recovery)
        out.line(
          JSON.stringify(
            await client.request('PUT', `${base}/recovery-policy`, {
              recoveryPolicy: recovery,
              by: operatorName(),
            }),
          ),
        );
      if (Object.keys(rebalance).length > 0)
        out.line(
          JSON.stringify(await client.request('PUT', `${base}/rebalance-policy`, rebalance)),
        );
      return 0;
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
