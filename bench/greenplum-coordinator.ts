import type { OperationHandle } from '#cluster/port.ts';
import { END_MARKER, sectionMarker } from '#cluster/greenplum/framing.ts';
import type { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import type { CoordinatorTransport, ScriptRequest } from '#cluster/transport/transport.ts';
import type { PlanItem, RecoveryType } from '#domain/events.ts';
import { catalogLines } from '#test/fixtures/clusters.ts';

/** The bench's coordinator was asked something it has no answer for: the figure would be wrong. */
export class NoAnswer extends Error {
  override name = 'NoAnswer';
}

interface Run {
  handle: OperationHandle;
  /** `dbid|content|type|host|port` lines, as the start script writes "$RECOVERSEG_OP.plan". */
  plan: string[];
  phases: string[];
}

/** A gplog line prefix as gprecoverseg prints it (captures 32, 40): `20261202:13:28:46:012165 …`. */
function gplog(now: Date, text: string): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}:${p(now.getUTCHours())}:${p(now.getUTCMinutes())}:${p(now.getUTCSeconds())}:012165`;
  return `${stamp} gprecoverseg:mdw:gpadmin-[INFO]:-${text}`;
}

/**
 * A coordinator that answers each script of the Greenplum adapter as Greenplum 6.24.3 does, in
 * the formats of the captures (test/fixtures/greenplum-6.24.3): psql's `-A -F '|'` rows,
 * pg_isready's exit statuses, gprecoverseg's per-segment lines (`sdw2 (dbid 4): 105366/220671 kB
 * (47%) copied`, `Done!`, capture 32; `no rewind required`, capture 40) and closing message, as
 * the poll script filters them. What it tells is the state of a simulated cluster, so a whole
 * incident of any size drives the real adapter: its scripts are built and its answers parsed.
 * The scripts are not run here (the unit tests run them in bash against the captures).
 */
export class SimulatedCoordinator implements CoordinatorTransport {
  readonly coordinator = 'simulated coordinator (bench)';
  readonly encoding = 'plain' as const;
  private readonly runs = new Map<string, Run>();
  private pids = 4000;

  constructor(
    private readonly sim: SimulatedCluster,
    /** `postgres --gp-version`'s line (capture 01a). */
    private readonly version: string,
  ) {}

  async run({ what, script }: ScriptRequest): Promise<string> {
    const sections = await this.answer(what, script);
    return `${[...sections.entries()].flatMap(([name, lines]) => [sectionMarker(name), ...lines]).join('\n')}\n${END_MARKER}\n`;
  }

  private async answer(what: string, script: string): Promise<Map<string, string[]>> {
    if (what === 'postgres --gp-version') return new Map([['version', [this.version]]]);
    if (what === 'gp_request_fts_probe_scan()') {
      await this.sim.requestFtsProbe();
      return new Map([['probe', ['t']]]);
    }
    if (what === 'read gp_segment_configuration') {
      const look = await this.sim.readConfiguration();
      const segments = catalogLines(look.segments);
      if (!script.includes(sectionMarker('responds'))) return new Map([['segments', segments]]);
      const unresponsive = new Set(look.unresponsive);
      const notReady = new Map(look.notReady.map((n) => [n.dbid, n.answer]));
      const rc = (dbid: number) =>
        unresponsive.has(dbid)
          ? 2
          : notReady.get(dbid) === 'mirror-ready'
            ? 64
            : notReady.has(dbid)
              ? 1
              : 0;
      const responds = look.segments
        .filter((r) => r.content >= 0 && r.role === 'p')
        .sort((a, b) => a.dbid - b.dbid)
        .map((r) => `${r.dbid}|${rc(r.dbid)}`);
      return new Map([
        ['segments', segments],
        ['responds', responds],
      ]);
    }
    if (what === 'read gp_stat_replication') {
      const [look, replication] = await Promise.all([
        this.sim.readConfiguration(),
        this.sim.readReplication(),
      ]);
      const senders = replication
        .filter((r) => r.state !== undefined)
        .sort((a, b) => a.content - b.content);
      return new Map([
        ['segments', catalogLines(look.segments)],
        [
          'replication',
          senders.map(
            (r) =>
              `${r.content}|gp_walreceiver|${r.state}|${r.syncState ?? ''}|${r.syncError ?? ''}`,
          ),
        ],
        [
          'wal_lag',
          senders.map(
            (r) =>
              `${r.content}|gp_walreceiver|${r.walRemainingBytes ?? ''}|${r.replayLagBytes ?? ''}`,
          ),
        ],
      ]);
    }
    const start = /^start gprecoverseg (-r )?(\S+)$/.exec(what);
    if (start)
      return new Map([['start', [await this.start(start[2]!, Boolean(start[1]), script)]]]);
    const poll = /^poll (\S+)$/.exec(what);
    if (poll) return this.poll(poll[1]!);
    throw new NoAnswer(`the bench coordinator has no answer for ${what}`);
  }

  private async start(operationId: string, rebalance: boolean, script: string): Promise<string> {
    const existing = this.runs.get(operationId);
    if (existing) return `existing|${this.pids}`;
    const segments = (await this.sim.readConfiguration()).segments;
    if (rebalance) {
      // The rebalance's plan is every segment (PLAN_FROM_CATALOG_SQL).
      const plan = [...segments]
        .filter((r) => r.content >= 0)
        .sort((a, b) => a.dbid - b.dbid)
        .map((r) => `${r.dbid}|${r.content}|incremental|${r.hostname}|${r.port}`);
      const limit = /-v limit=(\d+)/.exec(script)?.[1];
      const handle = await this.sim.startRebalance(
        { replayLagGb: limit ? Number(limit) / 1024 ** 3 : 10 },
        operationId,
      );
      this.runs.set(operationId, { handle, plan, phases: ['rebalance'] });
    } else {
      const written = /printf '%s\\n' (.*?) > "\$RECOVERSEG_OP\.plan"/.exec(script)?.[1];
      if (!written) throw new NoAnswer(`${operationId}: the start script writes no plan`);
      const plan = [...written.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
      const primaryOf = new Map(
        segments.filter((r) => r.role === 'p').map((r) => [r.content, r.dbid]),
      );
      const items = plan.map((line): PlanItem => {
        const [dbid, content, type] = line.split('|');
        return {
          dbid: Number(dbid),
          content: Number(content),
          sourceDbid: primaryOf.get(Number(content))!,
          type: type as RecoveryType,
        };
      });
      const handle = await this.sim.startRecovery(items, operationId);
      const phases = [...new Set(plan.map((line) => line.split('|')[5] ?? line.split('|')[2]!))];
      this.runs.set(operationId, { handle, plan, phases });
    }
    return `started|${++this.pids}`;
  }

  private async poll(operationId: string): Promise<Map<string, string[]>> {
    const run = this.runs.get(operationId);
    if (!run) return new Map([['operation', ['missing']]]);
    const status = await this.sim.pollOperation(run.handle);
    if (status.failures.length > 0 || status.skipped.length > 0)
      throw new NoAnswer(`${operationId}: the bench coordinator renders no failed segment`);
    const hostOf = new Map(
      run.plan.map((line) => line.split('|')).map((f) => [Number(f[0]), f[3]]),
    );
    const last = run.handle.kind === 'rebalance' ? 'no rewind required' : 'Done!';
    const now = new Date();
    const closing =
      run.handle.kind === 'rebalance'
        ? 'The rebalance operation has completed successfully.'
        : 'Segments successfully recovered.';
    return new Map([
      ['operation', [status.done ? 'exit|0' : 'running']],
      ['plan', run.plan],
      [
        'progress',
        [
          ...status.progress.map(
            (p) =>
              `${hostOf.get(p.dbid)} (dbid ${p.dbid}): ${p.completedKb}/${p.totalKb} kB (${p.percent}%) copied`,
          ),
          ...status.recovered.map((dbid) => `${hostOf.get(dbid)} (dbid ${dbid}): ${last}`),
        ],
      ],
      [
        'messages',
        run.phases.flatMap((phase) => [
          `@@recoverseg:phase ${phase}@@`,
          ...(status.done ? [gplog(now, closing), `@@recoverseg:phase-exit ${phase} 0@@`] : []),
        ]),
      ],
    ]);
  }
}
