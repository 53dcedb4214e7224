import { createHash } from 'node:crypto';
import * as z from 'zod';
import { ValidationError } from '#domain/errors.ts';
import { planItemSchema, type PlanItem, type RecoveryType } from '#domain/events.ts';
import { datadirSchema, hostnameSchema, type SegmentRow } from '#domain/segment.ts';
import type { OperationHandle } from '#cluster/port.ts';
import { RecoveryPlanRejected } from './errors.ts';
import { END_MARKER, sectionMarker } from './framing.ts';
import { shellQuote, writeLinesCommand } from './shell.ts';

/**
 * Shell scripts run on the coordinator as gpadmin (AWS-RunShellScript runs as root). Every value
 * that reaches a script is validated by a domain schema and then single-quoted; the SQL is
 * constant text.
 */

export interface CoordinatorEnvironment {
  /** Where greenplum_path.sh lives (`$GPHOME`). */
  gphome: string;
  coordinatorDataDirectory: string;
}

export const DEFAULT_ENVIRONMENT: CoordinatorEnvironment = {
  gphome: '/usr/lib/gpdb',
  coordinatorDataDirectory: '/data1/master/gpseg-1',
};

export function validateEnvironment(env: CoordinatorEnvironment): CoordinatorEnvironment {
  const result = z
    .strictObject({ gphome: datadirSchema, coordinatorDataDirectory: datadirSchema })
    .safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ValidationError(`${issue.path.join('.')}: ${issue.message}`, issue.path.join('.'));
  }
  return result.data;
}

/**
 * Wraps a script body for AWS-RunShellScript. stdout is gzip+base64 so one Run Command can carry
 * a large cluster's configuration inside SSM's 24,000-character output limit; `echo` ends the
 * line so any noise printed before it cannot be mistaken for the payload.
 */
export function coordinatorCommand(env: CoordinatorEnvironment, body: readonly string[]): string {
  const { gphome, coordinatorDataDirectory } = validateEnvironment(env);
  const script = [
    'set -eo pipefail',
    'cd "$HOME"',
    // greenplum_path.sh reads unset variables, so -u only after it.
    `source ${shellQuote(`${gphome}/greenplum_path.sh`)}`,
    'set -u',
    `export COORDINATOR_DATA_DIRECTORY=${shellQuote(coordinatorDataDirectory)}`,
    'export MASTER_DATA_DIRECTORY="$COORDINATOR_DATA_DIRECTORY"',
    'export RECOVERSEG_STATE_DIR="$HOME/gpAdminLogs/recoverseg"',
    'recoverseg_psql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -F "|" -d template1 -c "$1"; }',
    'recoverseg_main() {',
    ...body.map((line) => `  ${line}`),
    `  echo ${shellQuote(END_MARKER)}`,
    '}',
    'recoverseg_main | gzip -c | base64 -w 0',
    'echo',
  ].join('\n');
  return `sudo -u gpadmin -H bash -c ${shellQuote(script)}`;
}

export const section = (name: string): string => `echo ${shellQuote(sectionMarker(name))}`;
const psql = (sql: string): string => `recoverseg_psql ${shellQuote(sql)}`;

// ---------------------------------------------------------------------------------------------
// Queries

export const SEGMENT_CONFIGURATION_SQL =
  'SELECT dbid, content, role, preferred_role, mode, status, port, hostname, address, datadir ' +
  'FROM gp_segment_configuration ORDER BY content, role, dbid';

/** Greenplum 7 records double faults in the history; the catalog rows themselves do not change. */
export function doubleFaultSql(lookbackSeconds: number): string {
  const seconds = z.number().int().min(1).max(31_536_000).parse(lookbackSeconds);
  return (
    `SELECT DISTINCT substring("desc" from 'content id ([0-9]+)')::int FROM gp_configuration_history ` +
    `WHERE "desc" LIKE 'FTS: double fault detected for content id %' ` +
    `AND "time" > now() - interval '${seconds} seconds' ORDER BY 1`
  );
}

export const STAT_REPLICATION_SQL =
  'SELECT gp_segment_id, application_name, state, sync_state, sync_error ' +
  'FROM gp_stat_replication WHERE gp_segment_id >= 0 ORDER BY gp_segment_id, application_name';

/**
 * Evaluated on each segment (gp_dist_random), because the current WAL position that matters is
 * the acting primary's, not the coordinator's. PostgreSQL 10 renamed xlog/location to wal/lsn.
 */
export const WAL_LAG_SQL_7 =
  'SELECT gp_execution_segment(), application_name, ' +
  'pg_wal_lsn_diff(pg_current_wal_flush_lsn(), sent_lsn)::bigint, ' +
  'pg_wal_lsn_diff(flush_lsn, replay_lsn)::bigint ' +
  "FROM gp_dist_random('pg_stat_replication') ORDER BY 1, 2";

export const WAL_LAG_SQL_6 =
  'SELECT gp_execution_segment(), application_name, ' +
  'pg_xlog_location_diff(pg_current_xlog_location(), sent_location)::bigint, ' +
  'pg_xlog_location_diff(flush_location, replay_location)::bigint ' +
  "FROM gp_dist_random('pg_stat_replication') ORDER BY 1, 2";

export const FTS_PROBE_SQL = 'SELECT gp_request_fts_probe_scan()';

// ---------------------------------------------------------------------------------------------
// Read-only scripts

export function readConfigurationScript(doubleFaultLookbackSeconds: number): string[] {
  return [
    section('segments'),
    psql(SEGMENT_CONFIGURATION_SQL),
    section('double_faults'),
    psql(doubleFaultSql(doubleFaultLookbackSeconds)),
  ];
}

export function readReplicationScript(): string[] {
  return [
    section('segments'),
    psql(SEGMENT_CONFIGURATION_SQL),
    section('replication'),
    psql(STAT_REPLICATION_SQL),
    section('wal_lag'),
    // A primary FTS has not failed over yet makes the dispatched query fail; the walsender
    // states above still answer, so the byte counts are left unknown instead.
    `if [ "$(recoverseg_psql 'SHOW server_version_num')" -ge 100000 ]; then`,
    `  ${psql(WAL_LAG_SQL_7)} || true`,
    'else',
    `  ${psql(WAL_LAG_SQL_6)} || true`,
    'fi',
  ];
}

export function ftsProbeScript(): string[] {
  return [section('probe'), psql(FTS_PROBE_SQL)];
}

/** gpstate exits 1 whenever it reports a problem; the report is what we want. */
export function gpstateScript(flag: '-m' | '-e'): string[] {
  return [section('gpstate'), `gpstate ${flag} 2>&1 || true`];
}

// ---------------------------------------------------------------------------------------------
// Long operations: start in the background, then poll

const operationKeySchema = z.string().min(1).max(1024);
const OPERATION_ID = /^(recovery|rebalance)-[A-Za-z0-9._-]{1,64}-[0-9a-f]{12}$/;

/**
 * The file stem of a long operation on the coordinator, derived from the caller's idempotency
 * key: readable, safe as a file name whatever the key holds, and the same on every retry.
 */
export function operationIdFor(kind: OperationHandle['kind'], operationKey: string): string {
  const key = operationKeySchema.parse(operationKey);
  const readable = key.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return `${kind}-${readable}-${digest}`;
}

export function validateHandle(handle: OperationHandle): OperationHandle {
  const match = OPERATION_ID.exec(handle.operationId);
  if (!match || match[1] !== handle.kind)
    throw new ValidationError(
      `operationId ${JSON.stringify(handle.operationId)} is not a ${handle.kind} operation of this adapter`,
      'operationId',
    );
  return handle;
}

/** `-i` file lines and the plan file lines poll reads back to name segments by dbid. */
export interface RecoveryPhase {
  type: RecoveryType;
  /** `failedAddress|failedPort|failedDataDir[ targetAddress|targetPort|targetDataDir]`. */
  configLines: string[];
}

export interface PreparedRecovery {
  phases: RecoveryPhase[];
  /** `dbid|content|type|host|port`, host and port being where the segment is rebuilt. */
  planLines: string[];
}

const PHASE_ORDER: readonly RecoveryType[] = ['incremental', 'differential', 'full'];

/**
 * Turns a plan into gprecoverseg input. Types are not mixed within one run (Greenplum 6 has no
 * per-line type), so each type gets its own `-i` file and run, incremental first because it is
 * the fastest way back to redundancy.
 */
export function prepareRecovery(
  plan: readonly PlanItem[],
  segments: readonly SegmentRow[],
): PreparedRecovery {
  const items = z.array(planItemSchema).min(1).safeParse(plan);
  if (!items.success) {
    const issue = items.error.issues[0]!;
    const path = issue.path.join('.');
    throw new ValidationError(`plan.${path}: ${issue.message}`, `plan.${path}`);
  }
  const byDbid = new Map(segments.map((row) => [row.dbid, row]));
  const seen = new Set<number>();
  const phases = new Map<RecoveryType, string[]>();
  const planLines: string[] = [];
  for (const item of items.data) {
    const row = byDbid.get(item.dbid);
    if (!row)
      throw new RecoveryPlanRejected(`dbid ${item.dbid} is not in gp_segment_configuration`);
    if (row.content !== item.content || row.content < 0)
      throw new RecoveryPlanRejected(
        `dbid ${item.dbid} is content ${row.content}, not content ${item.content}; only segments can be recovered`,
      );
    if (seen.has(item.dbid)) throw new RecoveryPlanRejected(`dbid ${item.dbid} is planned twice`);
    seen.add(item.dbid);
    if (item.target && item.type !== 'full')
      throw new RecoveryPlanRejected(
        `dbid ${item.dbid}: a segment rebuilt elsewhere is always a full recovery, not ${item.type}`,
      );
    const failed = `${row.address}|${row.port}|${row.datadir}`;
    const line = item.target
      ? `${failed} ${item.target.address}|${item.target.port}|${item.target.datadir}`
      : failed;
    phases.set(item.type, [...(phases.get(item.type) ?? []), line]);
    const where = item.target ?? row;
    planLines.push(`${item.dbid}|${item.content}|${item.type}|${where.hostname}|${where.port}`);
  }
  return {
    phases: PHASE_ORDER.filter((type) => phases.has(type)).map((type) => ({
      type,
      configLines: phases.get(type)!,
    })),
    planLines,
  };
}

export interface GprecoversegInvocation {
  type: RecoveryType;
  /** A shell expression naming the `-i` file. */
  configFileExpression?: string;
  /** `-p`: one replacement host per failed host. */
  newHosts?: readonly string[];
}

/** The gprecoverseg command line, refusing the combinations gprecoverseg itself refuses. */
export function gprecoversegCommand(invocation: GprecoversegInvocation): string {
  const words = ['gprecoverseg', '-a'];
  const newHosts = (invocation.newHosts ?? []).map((host) => hostnameSchema.parse(host));
  if (newHosts.length > 0 && invocation.configFileExpression)
    throw new RecoveryPlanRejected('-p and -i cannot be combined: name the targets in the -i file');
  if (newHosts.length > 0 && invocation.type === 'differential')
    throw new RecoveryPlanRejected('Only one of -p, -r and --differential may be specified');
  if (invocation.type === 'full') words.push('-F');
  if (invocation.type === 'differential') words.push('--differential');
  if (invocation.configFileExpression) words.push('-i', invocation.configFileExpression);
  if (newHosts.length > 0) words.push('-p', shellQuote(newHosts.join(',')));
  return words.join(' ');
}

const replayLagSchema = z.number().positive().max(10_000);

export function gprecoversegRebalanceCommand(replayLagGb: number): string {
  const lag = replayLagSchema.parse(replayLagGb);
  return `gprecoverseg -a -r --replay-lag ${shellQuote(String(lag))}`;
}

const PLAN_FROM_CATALOG_SQL =
  "SELECT dbid, content, 'incremental', hostname, port FROM gp_segment_configuration " +
  'WHERE content >= 0 ORDER BY dbid';

interface BackgroundRun {
  operationId: string;
  /** Lines that write the operation's input files into "$RECOVERSEG_OP.*". */
  prepare: string[];
  /** Runner script: each step a phase name and a gprecoverseg command. */
  steps: { phase: string; command: string }[];
}

/**
 * Starts gprecoverseg detached from the Run Command (setsid nohup), its output in
 * `<id>.log` and its exit code in `<id>.exit`. `<id>.pid`, created with noclobber, is the
 * claim: a retried start finds it and reports the existing run instead of starting twice.
 * A live gprecoverseg.lock holder that is not ours is reported before anything is claimed.
 */
function startScript(run: BackgroundRun): string[] {
  const runner = [
    'rc=0',
    ...run.steps.flatMap(({ phase, command }) => [
      `echo ${shellQuote(`@@recoverseg:phase ${phase}@@`)}`,
      `${command} && prc=0 || prc=$?`,
      `echo "@@recoverseg:phase-exit ${phase} $prc@@"`,
      '[ "$rc" -ne 0 ] || rc=$prc',
    ]),
    'echo "$rc" > "$RECOVERSEG_OP.exit.tmp"',
    'mv "$RECOVERSEG_OP.exit.tmp" "$RECOVERSEG_OP.exit"',
  ];
  return [
    section('start'),
    'mkdir -p -m 700 "$RECOVERSEG_STATE_DIR"',
    `export RECOVERSEG_OP="$RECOVERSEG_STATE_DIR/${run.operationId}"`,
    'lock="$COORDINATOR_DATA_DIRECTORY/gprecoverseg.lock"',
    'holder=$(cat "$lock/PID" 2>/dev/null || true)',
    'case "$holder" in ""|*[!0-9]*) holder="" ;; esac',
    'if [ -e "$RECOVERSEG_OP.pid" ]; then',
    '  echo "existing|$(cat "$RECOVERSEG_OP.pid")"',
    'elif [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then',
    '  echo "locked|$holder"',
    'elif ! (set -o noclobber; echo "$$" > "$RECOVERSEG_OP.pid") 2>/dev/null; then',
    '  echo "existing|$(cat "$RECOVERSEG_OP.pid")"',
    'else',
    ...run.prepare.map((line) => `  ${line}`),
    `  ${writeLinesCommand(runner, '"$RECOVERSEG_OP.run"')}`,
    '  setsid nohup bash "$RECOVERSEG_OP.run" > "$RECOVERSEG_OP.log" 2>&1 < /dev/null &',
    '  echo "$!" > "$RECOVERSEG_OP.pid"',
    '  echo "started|$!"',
    'fi',
  ];
}

export function startRecoveryScript(operationId: string, prepared: PreparedRecovery): string[] {
  return startScript({
    operationId,
    prepare: [
      writeLinesCommand(prepared.planLines, '"$RECOVERSEG_OP.plan"'),
      ...prepared.phases.map((phase) =>
        writeLinesCommand(phase.configLines, `"$RECOVERSEG_OP.${phase.type}.conf"`),
      ),
    ],
    steps: prepared.phases.map((phase) => ({
      phase: phase.type,
      command: gprecoversegCommand({
        type: phase.type,
        configFileExpression: `"$RECOVERSEG_OP.${phase.type}.conf"`,
      }),
    })),
  });
}

export function startRebalanceScript(operationId: string, replayLagGb: number): string[] {
  return startScript({
    operationId,
    prepare: [`${psql(PLAN_FROM_CATALOG_SQL)} > "$RECOVERSEG_OP.plan"`],
    steps: [{ phase: 'rebalance', command: gprecoversegRebalanceCommand(replayLagGb) }],
  });
}
