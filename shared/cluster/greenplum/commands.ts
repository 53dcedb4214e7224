import { createHash } from 'node:crypto';
import * as z from '#domain/zod.ts';
import { ValidationError } from '#domain/errors.ts';
import { planItemSchema, type PlanItem, type RecoveryType } from '#domain/events.ts';
import { datadirSchema, hostnameSchema, portSchema, type SegmentRow } from '#domain/segment.ts';
import type { OperationHandle } from '#cluster/port.ts';
import { RecoveryPlanRejected } from './errors.ts';
import { END_MARKER, sectionMarker } from './framing.ts';
import { shellQuote, writeLinesCommand } from './shell.ts';
import { NotSupportedByVersion } from './version-errors.ts';
import { ENVIRONMENT_SCRIPTS, type ClusterVersion, type VersionFamily } from './versions.ts';

/**
 * Shell scripts run on the coordinator as the Greenplum admin user. Every value that reaches a
 * script is validated by a schema and then single-quoted; the SQL is constant text.
 */

export interface CoordinatorSettings {
  /** Where the release is installed (`greenplum_path.sh` or `cloudberry-env.sh` lives here). */
  gphome: string;
  coordinatorDataDirectory: string;
  /** The operating-system user that owns the cluster and runs its tools. */
  adminUser: string;
  /** The coordinator's port; the tools read it from PGPORT and assume 5432 without it. */
  port: number;
}

export const DEFAULT_SETTINGS: CoordinatorSettings = {
  gphome: '/usr/lib/gpdb',
  coordinatorDataDirectory: '/data1/master/gpseg-1',
  adminUser: 'gpadmin',
  port: 5432,
};

/** A POSIX user name, as useradd accepts it by default. */
export const adminUserSchema = z
  .string()
  .check(
    z.regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user name (a-z, 0-9, "_", "-"; at most 32)'),
  );

const settingsSchema = z.strictObject({
  gphome: datadirSchema,
  coordinatorDataDirectory: datadirSchema,
  adminUser: adminUserSchema,
  port: portSchema,
});

/** `names` maps a field to what the operator set (an environment variable, a CLI flag). */
export function validateSettings(
  settings: CoordinatorSettings,
  names: Partial<Record<keyof CoordinatorSettings, string>> = {},
): CoordinatorSettings {
  const result = settingsSchema.safeParse(settings);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.');
    const name = names[field as keyof CoordinatorSettings] ?? field;
    throw new ValidationError(`${name}: ${issue.message}`, name);
  }
  return result.data;
}

/** How the transport carries the answer: as printed, or gzip+base64 on one line (SSM's limit). */
export type OutputEncoding = 'plain' | 'gzip-base64';

/** Exit status of a script started as the wrong user; the transports name it. */
export const WRONG_USER_EXIT = 97;

/**
 * The whole script. Only `recoverseg_main`'s answer reaches the transport's stdout (fd 3):
 * whatever the environment script prints goes to stderr, so it cannot be taken for the answer.
 * `version` is undefined only for scripts that need no release (the one that learns it, and
 * whether a host answers), which source whichever environment script the installation has.
 */
export function coordinatorScript(
  settings: CoordinatorSettings,
  version: ClusterVersion | undefined,
  body: readonly string[],
  encoding: OutputEncoding,
): string {
  const { gphome, coordinatorDataDirectory, adminUser, port } = validateSettings(settings);
  const family = version?.family;
  const environment = family
    ? [`source ${shellQuote(`${gphome}/${family.environmentScript}`)}`]
    : [
        `for script in ${ENVIRONMENT_SCRIPTS.map((name) => shellQuote(`${gphome}/${name}`)).join(' ')}; do`,
        '  if [ -f "$script" ]; then source "$script"; break; fi',
        'done',
      ];
  const deliver =
    encoding === 'gzip-base64'
      ? ['recoverseg_main | gzip -c | base64 -w 0 >&3', 'echo >&3']
      : ['recoverseg_main >&3'];
  return [
    'set -eo pipefail',
    'exec 3>&1 1>&2',
    `if [ "$(id -un)" != ${shellQuote(adminUser)} ]; then`,
    `  echo "recoverseg: this script must run as ${adminUser}, not $(id -un)" >&2`,
    `  exit ${WRONG_USER_EXIT}`,
    'fi',
    'cd "$HOME"',
    // The environment scripts read unset variables, so -u only after them.
    ...environment,
    'set -u',
    `coordinator_data_directory=${shellQuote(coordinatorDataDirectory)}`,
    ...(family ? [`export ${family.dataDirectoryVariable}="$coordinator_data_directory"`] : []),
    `export PGPORT=${shellQuote(String(port))}`,
    'export RECOVERSEG_STATE_DIR="$HOME/gpAdminLogs/recoverseg"',
    'recoverseg_psql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -F "|" -d template1 -c "$1"; }',
    'recoverseg_main() {',
    ...body.map((line) => `  ${line}`),
    `  echo ${shellQuote(END_MARKER)}`,
    '}',
    ...deliver,
  ].join('\n');
}

export const section = (name: string): string => `echo ${shellQuote(sectionMarker(name))}`;
const psql = (sql: string): string => `recoverseg_psql ${shellQuote(sql)}`;

// ---------------------------------------------------------------------------------------------
// Queries

export const SEGMENT_CONFIGURATION_SQL =
  'SELECT dbid, content, role, preferred_role, mode, status, port, hostname, address, datadir ' +
  'FROM gp_segment_configuration ORDER BY content, role, dbid';

export const STAT_REPLICATION_SQL =
  'SELECT gp_segment_id, application_name, state, sync_state, sync_error ' +
  'FROM gp_stat_replication WHERE gp_segment_id >= 0 ORDER BY gp_segment_id, application_name';

export const FTS_PROBE_SQL = 'SELECT gp_request_fts_probe_scan()';

/** How long pg_isready waits for an acting primary, and how many it asks at once. */
const RESPONDS_TIMEOUT_SECONDS = 5;
const RESPONDS_PARALLEL = 64;

// ---------------------------------------------------------------------------------------------
// Read-only scripts

export function versionScript(): string[] {
  return [section('version'), 'postgres --gp-version'];
}

/**
 * The catalog, then whether each acting primary (content >= 0, role p) of that same snapshot
 * answers: `dbid|rc`, rc being pg_isready's exit status (0 accepting connections, 2 no
 * response: capture 102). The only way to see a double fault (capture 80c).
 */
export function readConfigurationScript(): string[] {
  const actingPrimaries = `awk -F'|' '$2 >= 0 && $3 == "p" { print $1, $9, $7 }'`;
  const probe =
    `xargs -r -n 3 -P ${RESPONDS_PARALLEL} sh -c ` +
    shellQuote(
      `pg_isready -h "$2" -p "$3" -t ${RESPONDS_TIMEOUT_SECONDS} > /dev/null 2>&1; echo "$1|$?"`,
    ) +
    ' recoverseg-probe';
  return [
    `segments=$(${psql(SEGMENT_CONFIGURATION_SQL)})`,
    section('segments'),
    '[ -z "$segments" ] || printf \'%s\\n\' "$segments"',
    section('responds'),
    `[ -z "$segments" ] || printf '%s\\n' "$segments" | ${actingPrimaries} | ${probe} | sort -t '|' -k1,1n`,
  ];
}

export function readSegmentsScript(): string[] {
  return [section('segments'), psql(SEGMENT_CONFIGURATION_SQL)];
}

export function readReplicationScript(family: VersionFamily): string[] {
  return [
    section('segments'),
    psql(SEGMENT_CONFIGURATION_SQL),
    section('replication'),
    // gp_stat_replication is dispatched to every acting primary: with one that does not answer
    // (a double fault, or before FTS failed it over) the whole query fails (capture 80h). No
    // walsender is then known to stream, which is what the workflow must assume.
    `${psql(STAT_REPLICATION_SQL)} || ${section('replication_unanswered')}`,
    section('wal_lag'),
    // A primary FTS has not failed over yet makes the dispatched query fail; the walsender
    // states above still answer, so the byte counts are left unknown instead.
    `${psql(family.walLagSql)} || true`,
  ];
}

/**
 * The gprecoverseg holding gprecoverseg.lock now, if its PID lives: `pid|command line`. What an
 * operator cancelling a run must know, since recoverseg never kills it.
 */
export function runningGprecoversegScript(): string[] {
  return [
    section('running'),
    'holder=$(cat "$coordinator_data_directory/gprecoverseg.lock/PID" 2>/dev/null || true)',
    'case "$holder" in ""|*[!0-9]*) holder="" ;; esac',
    'if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then',
    `  echo "$holder|$(ps -o args= -p "$holder" 2>/dev/null | tr -d '|\\n')"`,
    'fi',
  ];
}

export function ftsProbeScript(): string[] {
  return [section('probe'), psql(FTS_PROBE_SQL)];
}

/**
 * gpstate exits 1 whenever it reports a problem (`-e` whenever it lists anything): the report
 * is what we want, and its exit status is checked against it.
 */
export function gpstateScript(flag: '-m' | '-e'): string[] {
  return [
    section('gpstate'),
    `gpstate ${flag} 2>&1 && rc=0 || rc=$?`,
    section('gpstate_rc'),
    'echo "$rc"',
  ];
}

// ---------------------------------------------------------------------------------------------
// Long operations: start in the background, then poll

const operationKeySchema = z.string().check(z.minLength(1), z.maxLength(1024));
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

/**
 * One gprecoverseg run of a recovery. `config`: an `-i` file of
 * `failedAddress|failedPort|failedDataDir[ targetAddress|targetPort|targetDataDir]` lines.
 * `everyDown`: the command recovers every down segment it finds (`--differential` on 7.x,
 * `-p` on 6.x), so it runs last and only when gprecoverseg's own preview (`-o`) lists exactly
 * `failedLines`; for `-p` the preview also gives the ports it will pick.
 */
export type RecoveryPhase =
  | { name: RecoveryType; type: RecoveryType; config: string[] }
  | {
      name: 'differential' | 'relocate';
      type: RecoveryType;
      everyDown: { failedLines: string[]; dbids: number[]; newHosts: string[] };
    };

export interface PreparedRecovery {
  phases: RecoveryPhase[];
  /**
   * `dbid|content|type|host|port[|phase]`, host and port being where the segment is rebuilt;
   * `phase` is written only when it is not the type (6.x relocation: `relocate`, its port
   * rewritten from gprecoverseg's preview before the run).
   */
  planLines: string[];
}

const IN_PLACE_ORDER: readonly RecoveryType[] = ['incremental', 'full'];

/**
 * Turns a plan into gprecoverseg runs for this cluster's release, refusing what the release
 * cannot do before anything runs. Types are not mixed within one run (6.x has no per-line
 * type), incremental first because it is the fastest way back to redundancy; a run that takes
 * every down segment comes last, when only its own segments are still down.
 */
export function prepareRecovery(
  plan: readonly PlanItem[],
  segments: readonly SegmentRow[],
  version: ClusterVersion,
): PreparedRecovery {
  const items = z.array(planItemSchema).check(z.minLength(1)).safeParse(plan);
  if (!items.success) {
    const issue = items.error.issues[0]!;
    const path = issue.path.join('.');
    throw new ValidationError(`plan.${path}: ${issue.message}`, `plan.${path}`);
  }
  const { family } = version;
  const byDbid = new Map(segments.map((row) => [row.dbid, row]));
  const seen = new Set<number>();
  const inPlace = new Map<RecoveryType, string[]>();
  const everyDown: { item: PlanItem; row: SegmentRow }[] = [];
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
    if (item.type === 'differential' && family.differential === 'unsupported')
      throw new NotSupportedByVersion(
        'differential recovery',
        'Greenplum 7 or Cloudberry',
        version.display,
      );
    const failed = `${row.address}|${row.port}|${row.datadir}`;
    const where = item.target ?? row;
    const takesEveryDown =
      item.type === 'differential' || (item.target && family.relocation === 'new-hosts');
    if (takesEveryDown) everyDown.push({ item, row });
    else {
      const target = item.target;
      const line = target ? `${failed} ${target.address}|${target.port}|${target.datadir}` : failed;
      const lines = inPlace.get(item.type) ?? [];
      lines.push(line);
      inPlace.set(item.type, lines);
    }
    const phase = item.target && family.relocation === 'new-hosts' ? '|relocate' : '';
    planLines.push(
      `${item.dbid}|${item.content}|${item.type}|${where.hostname}|${where.port}${phase}`,
    );
  }
  const phases: RecoveryPhase[] = IN_PLACE_ORDER.filter((type) => inPlace.has(type)).map(
    (type) => ({ name: type, type, config: inPlace.get(type)! }),
  );
  const last = everyDownPhase(everyDown, segments, version);
  return { phases: last ? [...phases, last] : phases, planLines };
}

function everyDownPhase(
  members: readonly { item: PlanItem; row: SegmentRow }[],
  segments: readonly SegmentRow[],
  version: ClusterVersion,
): RecoveryPhase | undefined {
  if (members.length === 0) return undefined;
  const kinds = new Set(members.map(({ item }) => item.type));
  if (kinds.size > 1)
    throw new RecoveryPlanRejected(
      `${version.display} recovers every down segment in one differential or one -p run, so a plan cannot hold both; plan them in separate recoveries`,
    );
  const failedLines = members.map(({ row }) => `${row.address}|${row.port}|${row.datadir}`);
  const dbids = members.map(({ item }) => item.dbid);
  if (kinds.has('differential'))
    return {
      name: 'differential',
      type: 'differential',
      everyDown: { failedLines, dbids, newHosts: [] },
    };

  // 6.x -p: one new host per failed host, given in the order of the sorted failed host names.
  const targetOf = new Map<string, string>();
  for (const { item, row } of members) {
    const target = item.target!;
    if (target.datadir !== row.datadir)
      throw new NotSupportedByVersion(
        `rebuilding dbid ${item.dbid} in ${target.datadir} instead of ${row.datadir}`,
        'Greenplum 7 or Cloudberry (gprecoverseg -p on 6.x keeps the data directory)',
        version.display,
      );
    const previous = targetOf.get(row.hostname);
    if (previous !== undefined && previous !== target.hostname)
      throw new RecoveryPlanRejected(
        `the segments of ${row.hostname} are planned onto ${previous} and ${target.hostname}; gprecoverseg -p on ${version.display} moves a failed host's segments to one new host`,
      );
    targetOf.set(row.hostname, target.hostname);
  }
  const planned = new Set(members.map(({ item }) => item.dbid));
  const left = segments.filter(
    (row) =>
      row.content >= 0 &&
      targetOf.has(row.hostname) &&
      row.status === 'd' &&
      !planned.has(row.dbid),
  );
  if (left.length > 0)
    throw new RecoveryPlanRejected(
      `gprecoverseg -p on ${version.display} moves every down segment of a failed host, and dbid ${left.map((row) => row.dbid).join(', ')} is down there but not in the plan; plan the whole host`,
    );
  const failedHosts = [...targetOf.keys()].sort();
  return {
    name: 'relocate',
    type: 'full',
    everyDown: { failedLines, dbids, newHosts: failedHosts.map((host) => targetOf.get(host)!) },
  };
}

export interface GprecoversegInvocation {
  type: RecoveryType;
  /** A shell expression naming the `-i` file. */
  configFileExpression?: string;
  /** `-p`: one replacement host per failed host. */
  newHosts?: readonly string[];
  /** `-o`: write the plan gprecoverseg would follow to this file instead of recovering. */
  previewFileExpression?: string;
}

/** The gprecoverseg command line, refusing the combinations gprecoverseg itself refuses. */
export function gprecoversegCommand(invocation: GprecoversegInvocation): string {
  const newHosts = (invocation.newHosts ?? []).map((host) => hostnameSchema.parse(host));
  if (newHosts.length > 0 && invocation.configFileExpression)
    throw new RecoveryPlanRejected('Only one of -i, -p, and -r may be specified');
  if (
    invocation.type === 'differential' &&
    (newHosts.length > 0 || invocation.configFileExpression)
  )
    throw new RecoveryPlanRejected('Only one of -i, -p, -r and --differential may be specified');
  const preview = invocation.previewFileExpression;
  if (preview && invocation.type === 'differential')
    throw new RecoveryPlanRejected('Invalid -o provided with --differential argument');
  const words = ['gprecoverseg', ...(preview ? ['-o', preview] : ['-a'])];
  if (invocation.type === 'full' && !preview) words.push('-F');
  if (invocation.type === 'differential') words.push('--differential');
  if (invocation.configFileExpression) words.push('-i', invocation.configFileExpression);
  if (newHosts.length > 0) words.push('-p', shellQuote(newHosts.join(',')));
  return words.join(' ');
}

const replayLagSchema = z.number().check(z.positive(), z.maximum(10_000));

/** `gprecoverseg -a -r`, with `--replay-lag` where the release has it. */
export function gprecoversegRebalanceCommand(family: VersionFamily, replayLagGb: number): string {
  const lag = replayLagSchema.parse(replayLagGb);
  return family.rebalanceReplayLag.kind === 'flag'
    ? `gprecoverseg -a -r --replay-lag ${shellQuote(String(lag))}`
    : 'gprecoverseg -a -r';
}

const PLAN_FROM_CATALOG_SQL =
  "SELECT dbid, content, 'incremental', hostname, port FROM gp_segment_configuration " +
  'WHERE content >= 0 ORDER BY dbid';

interface BackgroundRun {
  operationId: string;
  /**
   * A command that prints one refusal line, or nothing, before anything is claimed; a failing
   * check fails the script, so a lag that cannot be measured never lets a run start.
   */
  refusal?: string;
  /** Lines that write the operation's input files into "$RECOVERSEG_OP.*". */
  prepare: string[];
  /** Runner script: each step a phase name and the lines that set `prc`. */
  steps: { phase: string; lines: string[] }[];
}

/**
 * Starts gprecoverseg detached from the transport (setsid nohup, fd 3 closed so the answer's
 * stream ends now), its output in `<id>.log` and its exit code in `<id>.exit`. `<id>.pid`,
 * created with noclobber, is the claim: a retried start finds it and reports the existing run
 * instead of starting twice. A live gprecoverseg.lock holder that is not ours, or a lock
 * directory no live process holds, is reported before anything is claimed.
 */
function startScript(run: BackgroundRun): string[] {
  const runner = [
    // The lock may have been taken between the start's check and now: wait while its holder
    // lives, as gprecoverseg itself would only refuse (and exit 0).
    'while holder=$(cat "$RECOVERSEG_LOCK/PID" 2>/dev/null) && [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; do sleep 5; done',
    'rc=0',
    ...run.steps.flatMap(({ phase, lines }) => [
      `echo ${shellQuote(`@@recoverseg:phase ${phase}@@`)}`,
      ...lines,
      `echo "@@recoverseg:phase-exit ${phase} $prc@@"`,
      '[ "$rc" -ne 0 ] || rc=$prc',
    ]),
    'echo "$rc" > "$RECOVERSEG_OP.exit.tmp"',
    'mv "$RECOVERSEG_OP.exit.tmp" "$RECOVERSEG_OP.exit"',
  ];
  const start = [
    'if ! (set -o noclobber; echo "$$" > "$RECOVERSEG_OP.pid") 2>/dev/null; then',
    '  echo "existing|$(cat "$RECOVERSEG_OP.pid")"',
    'else',
    ...run.prepare.map((line) => `  ${line}`),
    `  ${writeLinesCommand(runner, '"$RECOVERSEG_OP.run"')}`,
    '  setsid nohup bash "$RECOVERSEG_OP.run" > "$RECOVERSEG_OP.log" 2>&1 < /dev/null 3>&- &',
    '  echo "$!" > "$RECOVERSEG_OP.pid"',
    '  echo "started|$!"',
    'fi',
  ];
  const guarded = run.refusal
    ? [
        `refusal=$(${run.refusal})`,
        'if [ -n "$refusal" ]; then echo "$refusal"; else',
        ...start.map((line) => `  ${line}`),
        'fi',
      ]
    : start;
  return [
    section('start'),
    'mkdir -p -m 700 "$RECOVERSEG_STATE_DIR"',
    `export RECOVERSEG_OP="$RECOVERSEG_STATE_DIR/${run.operationId}"`,
    'export RECOVERSEG_LOCK="$coordinator_data_directory/gprecoverseg.lock"',
    'holder=$(cat "$RECOVERSEG_LOCK/PID" 2>/dev/null || true)',
    'case "$holder" in ""|*[!0-9]*) holder="" ;; esac',
    'if [ -e "$RECOVERSEG_OP.pid" ]; then',
    '  echo "existing|$(cat "$RECOVERSEG_OP.pid")"',
    'elif [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then',
    '  echo "locked|$holder|$RECOVERSEG_LOCK"',
    // gprecoverseg would refuse on the directory alone, and never checks its PID.
    'elif [ -d "$RECOVERSEG_LOCK" ]; then',
    '  echo "stale|$holder|$RECOVERSEG_LOCK"',
    'else',
    ...guarded.map((line) => `  ${line}`),
    'fi',
  ];
}

/** Rewrites the plan's host|port of relocated dbids from `-o`'s `failed target` lines. */
const PLAN_FROM_PREVIEW =
  'FNR == 1 { f++ } ' +
  'f == 1 { dbid[$1] = $2; next } ' +
  'f == 2 { split($2, t, "|"); at[dbid[$1]] = t[1] "|" t[2]; next } ' +
  '{ n = split($0, p, "|"); if (p[1] in at) { split(at[p[1]], t, "|"); p[4] = t[1]; p[5] = t[2] } ' +
  'line = p[1]; for (i = 2; i <= n; i++) line = line "|" p[i]; print line }';

function everyDownSteps(phase: Extract<RecoveryPhase, { everyDown: unknown }>): string[] {
  const file = (suffix: string) => `"$RECOVERSEG_OP.${phase.name}.${suffix}"`;
  const newHosts = phase.everyDown.newHosts;
  const previewCommand = gprecoversegCommand({
    type: 'full',
    newHosts,
    previewFileExpression: file('preview'),
  });
  const run = gprecoversegCommand({ type: phase.type, newHosts });
  const refuse = `echo "@@recoverseg:refused ${phase.name} gprecoverseg would recover $(cut -d ' ' -f 1 ${file('preview')} | sort | paste -sd ' ' -), not the planned $(paste -sd ' ' ${file('expected')})@@"`;
  return [
    // Segments an earlier phase just brought back are marked up by FTS, not by gprecoverseg.
    `recoverseg_psql ${shellQuote(FTS_PROBE_SQL)} > /dev/null || true`,
    `${previewCommand} && prc=0 || prc=$?`,
    'if [ "$prc" -eq 0 ]; then',
    `  if [ "$(cut -d ' ' -f 1 ${file('preview')} | sort)" = "$(cat ${file('expected')})" ]; then`,
    ...(newHosts.length > 0
      ? [
          `    awk ${shellQuote(PLAN_FROM_PREVIEW)} ${file('map')} ${file('preview')} "$RECOVERSEG_OP.plan" > "$RECOVERSEG_OP.plan.tmp"`,
          '    mv "$RECOVERSEG_OP.plan.tmp" "$RECOVERSEG_OP.plan"',
        ]
      : []),
    `    ${run} && prc=0 || prc=$?`,
    '  else',
    `    ${refuse}`,
    '    prc=3',
    '  fi',
    'fi',
  ];
}

export function startRecoveryScript(operationId: string, prepared: PreparedRecovery): string[] {
  const files = prepared.phases.flatMap((phase) => {
    if ('config' in phase)
      return [writeLinesCommand(phase.config, `"$RECOVERSEG_OP.${phase.name}.conf"`)];
    const { failedLines, dbids } = phase.everyDown;
    return [
      writeLinesCommand([...failedLines].sort(), `"$RECOVERSEG_OP.${phase.name}.expected"`),
      writeLinesCommand(
        failedLines.map((line, index) => `${line} ${dbids[index]}`),
        `"$RECOVERSEG_OP.${phase.name}.map"`,
      ),
    ];
  });
  return startScript({
    operationId,
    prepare: [writeLinesCommand(prepared.planLines, '"$RECOVERSEG_OP.plan"'), ...files],
    steps: prepared.phases.map((phase) => ({
      phase: phase.name,
      lines:
        'config' in phase
          ? [
              `${gprecoversegCommand({ type: phase.type, configFileExpression: `"$RECOVERSEG_OP.${phase.name}.conf"` })} && prc=0 || prc=$?`,
            ]
          : everyDownSteps(phase),
    })),
  });
}

/** The answer a rebalance start gives when recoverseg's own replay-lag check refused it. */
export const REPLAY_LAG_REFUSAL = /^replay-lag\|(\d+)\|(\d+)$/;

export function startRebalanceScript(
  operationId: string,
  family: VersionFamily,
  replayLagGb: number,
): string[] {
  const command = gprecoversegRebalanceCommand(family, replayLagGb);
  const check = family.rebalanceReplayLag;
  const limitBytes = Math.ceil(replayLagGb * 1024 ** 3);
  return startScript({
    operationId,
    ...(check.kind === 'sql'
      ? {
          // awk reads to the end: exiting early could kill psql with SIGPIPE and fail the check.
          refusal: `${psql(check.sql)} | awk -F '|' -v limit=${limitBytes} '$2 >= limit && !found { print "replay-lag|" $1 "|" $2; found = 1 }'`,
        }
      : {}),
    prepare: [`${psql(PLAN_FROM_CATALOG_SQL)} > "$RECOVERSEG_OP.plan"`],
    steps: [{ phase: 'rebalance', lines: [`${command} && prc=0 || prc=$?`] }],
  });
}
