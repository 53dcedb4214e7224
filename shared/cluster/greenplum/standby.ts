import type { StandbyReplication } from '#domain/events.ts';
import { standbyReplicationSchema } from '#domain/events.ts';
import type { SegmentLocation } from '#domain/segment.ts';
import { ClusterError, MalformedOutput } from './errors.ts';
import type { OutputLine } from './framing.ts';
import { section } from './commands.ts';
import { shellQuote } from './shell.ts';
import type { VersionFamily } from './versions.ts';

/*
 * The coordinator's standby: what recoverseg reads and runs for it, and how it reads the
 * answers, against real GP 6.24.3 output (captures 114, 125-128, 134, 138-140, 153).
 */

/** The walsender the standby's walreceiver connects as (capture 114). */
const STANDBY_APPLICATION = 'gp_walreceiver';

/**
 * pg_stat_replication on the coordinator, expanded as psql -x prints it (capture 114): the only
 * place a dead standby shows (capture 153: no rows; the catalog keeps it u/s, capture 151).
 */
export const standbyReplicationScript = (): string[] => [
  section('standby'),
  `psql -X -x -v ON_ERROR_STOP=1 -d template1 -c ${shellQuote('SELECT * FROM pg_stat_replication')}`,
];

/** `-[ RECORD n ]---+---` then `name | value` lines, or `(No rows)`. */
function expandedRecords(command: string, lines: readonly OutputLine[]) {
  const records: Map<string, string>[] = [];
  for (const line of lines) {
    if (line.text === '(No rows)' || line.text === '') continue;
    if (/^-\[ RECORD \d+ \]-*\+?-*$/.test(line.text)) {
      records.push(new Map());
      continue;
    }
    const cell = /^(\w+)\s*\| ?(.*)$/.exec(line.text);
    const record = records.at(-1);
    if (!cell || !record)
      throw new MalformedOutput(command, line.number, line.text, 'expected a psql -x record line');
    record.set(cell[1]!, cell[2]!);
  }
  return records;
}

/** The standby's walsender, or `absent` when it has none (capture 153). */
export function parseStandbyReplication(
  command: string,
  lines: readonly OutputLine[],
  family: VersionFamily,
): StandbyReplication {
  const records = expandedRecords(command, lines);
  const sender = records.find((r) => r.get('application_name') === STANDBY_APPLICATION);
  if (!sender) return { state: 'absent' };
  const { sent, flush, replay } = family.standby.locationColumns;
  const value = (name: string) => sender.get(name) || undefined;
  const parsed = standbyReplicationSchema.safeParse({
    state: value('state'),
    ...(value('sync_state') ? { syncState: value('sync_state') } : {}),
    ...(value(sent) ? { sentLocation: value(sent) } : {}),
    ...(value(flush) ? { flushLocation: value(flush) } : {}),
    ...(value(replay) ? { replayLocation: value(replay) } : {}),
  });
  if (!parsed.success) {
    const line = lines.find((l) => l.text.startsWith('state')) ?? lines[0]!;
    throw new MalformedOutput(
      command,
      line.number,
      line.text,
      `the standby's walsender: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`,
    );
  }
  return parsed.data;
}

/** gpactivatestandby refused: a coordinator process, or what looks like one, holds the port. */
export class ActiveCoordinatorProcess extends ClusterError {
  override name = 'ActiveCoordinatorProcess';
}

/** gpactivatestandby or gpinitstandby failed for another reason: its own words. */
export class StandbyCommandFailed extends ClusterError {
  override name = 'StandbyCommandFailed';
}

/** The text of a Greenplum utility's log line (`...gpadmin-[LEVEL]:-text`). */
const logText = (line: string) =>
  /^\d{8}:\d{2}:\d{2}:\d{2}:\d+ \S+:\S+:\S+-\[(\w+)\]:-(.*)$/.exec(line);

/**
 * gpactivatestandby -a -d DIR run on the standby's host: completed (capture 128), or refused
 * because the old coordinator's socket lock file is still in /tmp (125, 138: exit 2), which
 * recoverseg removes only after the fence.
 */
export function parseActivation(
  command: string,
  text: string,
  exitStatus: number,
  family: VersionFamily,
): void {
  const lines = text
    .split('\n')
    .map((l) => logText(l))
    .filter((m) => m !== null);
  if (exitStatus === 0 && lines.some((m) => m[2] === family.standby.activated)) return;
  const active = lines.find((m) =>
    /^Appears that there is an active postgres process on /.test(m[2]!),
  );
  if (active)
    throw new ActiveCoordinatorProcess(
      `${command}: ${active[2]} (exit ${exitStatus}); its socket lock file in /tmp must go, and only once the old coordinator is fenced`,
    );
  const errors = lines.filter((m) => m[1] === 'CRITICAL' || m[1] === 'ERROR').map((m) => m[2]);
  throw new StandbyCommandFailed(
    `${command}: exit ${exitStatus}${errors.length > 0 ? `: ${errors.join('; ')}` : ': it did not say the activation completed'}`,
  );
}

/**
 * gpinitstandby -a -s HOST -P PORT -S DIR on the coordinator: created (captures 111, 135, 142),
 * or refused before any change (134: the data directory exists on that host).
 */
export function parseStandbyInitialization(command: string, text: string, exitStatus: number) {
  const lines = text
    .split('\n')
    .map((l) => logText(l))
    .filter((m) => m !== null);
  if (
    exitStatus === 0 &&
    lines.some((m) => /^Successfully created standby (master|coordinator) on /.test(m[2]!))
  )
    return;
  const errors = lines.filter((m) => m[1] === 'CRITICAL' || m[1] === 'ERROR').map((m) => m[2]);
  throw new StandbyCommandFailed(
    `${command}: exit ${exitStatus}${errors.length > 0 ? `: ${errors.join('; ')}` : ''}`,
  );
}

/** The socket files a killed postmaster leaves in /tmp (capture 126), by port. */
export const socketFiles = (port: number, directory = '/tmp'): string[] => [
  `${directory}/.s.PGSQL.${port}`,
  `${directory}/.s.PGSQL.${port}.lock`,
];

/**
 * The fence on the old coordinator's host, then the clean-up gpactivatestandby needs: stop its
 * postmaster at once if one runs (pg_ctl stop -m immediate), then remove the socket files only
 * if the lock's PID (its first line: capture 126) no longer runs. `rm -fv` says what it removed
 * (capture 127).
 */
export function fenceScript(
  old: Pick<SegmentLocation, 'datadir' | 'port'>,
  socketDirectory = '/tmp',
): string[] {
  const [socket, lock] = socketFiles(old.port, socketDirectory).map(shellQuote) as [string, string];
  return [
    section('fence'),
    `if pg_ctl status -D ${shellQuote(old.datadir)} >/dev/null 2>&1; then`,
    `  pg_ctl stop -D ${shellQuote(old.datadir)} -m immediate -w >&2 && echo stopped`,
    'else echo not-running; fi',
    section('removed'),
    `holder=$(head -1 ${lock} 2>/dev/null || true)`,
    'case "$holder" in ""|*[!0-9]*) holder="" ;; esac',
    'if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then echo "held $holder"',
    `else rm -fv ${socket} ${lock}; fi`,
  ];
}

export interface FenceAnswer {
  stopped: boolean;
  removed: string[];
}

/** What the fence did: whether it stopped a postmaster, and the files rm -fv removed. */
export function parseFence(
  command: string,
  fence: readonly OutputLine[],
  removed: readonly OutputLine[],
): FenceAnswer {
  const verdict = fence.at(-1);
  if (!verdict || !['stopped', 'not-running'].includes(verdict.text))
    throw new MalformedOutput(
      command,
      verdict?.number ?? 0,
      verdict?.text ?? '',
      'expected stopped or not-running',
    );
  const files: string[] = [];
  for (const line of removed) {
    const held = /^held (\d+)$/.exec(line.text);
    if (held)
      throw new ActiveCoordinatorProcess(
        `${command}: process ${held[1]} still holds the coordinator's socket lock after the fence; recoverseg does not activate the standby`,
      );
    const file = /^removed '(\/[\w./-]*\/\.s\.PGSQL\.\d+(?:\.lock)?)'$/.exec(line.text);
    if (!file)
      throw new MalformedOutput(command, line.number, line.text, "expected rm -v's removed '...'");
    files.push(file[1]!);
  }
  return { stopped: verdict.text === 'stopped', removed: files };
}

/** gpactivatestandby on the standby's host, with its data directory and port set as 6.x/7.x want. */
export function activateScript(
  family: VersionFamily,
  standby: Pick<SegmentLocation, 'datadir' | 'port'>,
): string[] {
  return [
    `export ${family.dataDirectoryVariable}=${shellQuote(standby.datadir)}`,
    `export PGPORT=${shellQuote(String(standby.port))}`,
    section('activate'),
    `rc=0; gpactivatestandby -a -d ${shellQuote(standby.datadir)} 2>&1 || rc=$?`,
    section('activate_rc'),
    'echo "$rc"',
  ];
}

/** gpinitstandby on the (new) coordinator for a standby at `location`. */
export function initializeStandbyScript(
  location: Pick<SegmentLocation, 'hostname' | 'port' | 'datadir'>,
): string[] {
  return [
    section('initialize'),
    `rc=0; gpinitstandby -a -s ${shellQuote(location.hostname)} -P ${shellQuote(String(location.port))} -S ${shellQuote(location.datadir)} 2>&1 || rc=$?`,
    section('initialize_rc'),
    'echo "$rc"',
  ];
}
