import type { PostmasterAnswer } from '#cluster/port.ts';
import type { StandbyReplication } from '#domain/events.ts';
import { standbyReplicationSchema } from '#domain/events.ts';
import type { SegmentLocation } from '#domain/segment.ts';
import { ClusterError, MalformedOutput } from './errors.ts';
import type { OutputLine } from './framing.ts';
import { section } from './commands.ts';
import { shellQuote, writeLinesCommand } from './shell.ts';
import type { VersionFamily } from './versions.ts';

/*
 * The coordinator's standby: what recoverseg reads and runs for it, and how it reads the
 * answers, against real GP 6.24.3 output (captures 114, 116, 121, 125-128, 134, 138-140, 153).
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

/** How long pg_isready waits for each postmaster (the catalog read's probe waits as long). */
const PROBE_TIMEOUT_SECONDS = 5;

/** pg_isready's exit statuses and the words it prints for each (its source, captures 116, 121). */
const POSTMASTER_ANSWERS = new Map<number, { answer: PostmasterAnswer; words: string }>([
  [0, { answer: 'accepting', words: 'accepting connections' }],
  [1, { answer: 'rejecting', words: 'rejecting connections' }],
  [2, { answer: 'no-response', words: 'no response' }],
  [3, { answer: 'no-attempt', words: 'no attempt' }],
  [64, { answer: 'mirror-ready', words: 'mirror ready' }],
]);

const isReady = ({ address, port }: Pick<SegmentLocation, 'address' | 'port'>) =>
  `pg_isready -h ${shellQuote(address)} -p ${shellQuote(String(port))} -t ${PROBE_TIMEOUT_SECONDS} && rc=0 || rc=$?; echo "rc=$rc"`;

/** pg_isready on the coordinator and on the standby, at their catalog addresses. */
export const probeScript = (
  coordinator: Pick<SegmentLocation, 'address' | 'port'>,
  standby: Pick<SegmentLocation, 'address' | 'port'>,
): string[] => [section('coordinator'), isReady(coordinator), section('standby'), isReady(standby)];

export interface PostmasterReply {
  /** `host:port` as pg_isready printed it; absent when it made no attempt (bad options). */
  target?: string;
  answer: PostmasterAnswer;
}

/**
 * pg_isready's `host:port - words` lines, each followed by `rc=N` (its exit status), as in
 * captures 116 and 121. The words must be the ones pg_isready prints for that status.
 */
export function parsePgIsReady(command: string, lines: readonly OutputLine[]): PostmasterReply[] {
  const replies: PostmasterReply[] = [];
  let said: { target: string; words: string } | undefined;
  for (const line of lines) {
    const printed = /^(\S+:\d+) - (.+)$/.exec(line.text);
    if (printed && !said) {
      said = { target: printed[1]!, words: printed[2]! };
      continue;
    }
    const rc = /^rc=(\d+)$/.exec(line.text);
    const known = rc ? POSTMASTER_ANSWERS.get(Number(rc[1])) : undefined;
    if (!known)
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        rc
          ? 'expected a pg_isready exit status (0, 1, 2, 3 or 64)'
          : "expected pg_isready's host:port line, then rc=N",
      );
    if (said ? said.words !== known.words : known.answer !== 'no-attempt')
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        `pg_isready says ${said ? `"${said.words}"` : 'nothing'} but exited ${rc![1]}`,
      );
    replies.push(said ? { target: said.target, answer: known.answer } : { answer: known.answer });
    said = undefined;
  }
  const last = lines.at(-1);
  if (said || replies.length === 0)
    throw new MalformedOutput(
      command,
      last?.number ?? 0,
      last?.text ?? '',
      'expected rc=N after pg_isready',
    );
  return replies;
}

/** The one answer of a probe section. */
export function postmasterAnswer(command: string, lines: readonly OutputLine[]): PostmasterAnswer {
  const replies = parsePgIsReady(command, lines);
  if (replies.length !== 1)
    throw new MalformedOutput(
      command,
      lines[0]!.number,
      lines[0]!.text,
      'expected one pg_isready answer',
    );
  return replies[0]!.answer;
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

/** A utility's log lines as [line, level, text]. */
const logLines = (text: string) =>
  text
    .split('\n')
    .map((l) => logText(l))
    .filter((m) => m !== null);

/** The tool's own words when it fails: its CRITICAL and ERROR lines, or `otherwise`. */
function failureWords(lines: ReturnType<typeof logLines>, otherwise: string): string {
  const errors = lines.filter((m) => m[1] === 'CRITICAL' || m[1] === 'ERROR').map((m) => m[2]);
  return errors.length > 0 ? `: ${errors.join('; ')}` : `: ${otherwise}`;
}

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
  const lines = logLines(text);
  if (exitStatus === 0 && lines.some((m) => m[2] === family.standby.activated)) return;
  const active = lines.find((m) =>
    /^Appears that there is an active postgres process on /.test(m[2]!),
  );
  if (active)
    throw new ActiveCoordinatorProcess(
      `${command}: ${active[2]} (exit ${exitStatus}); its socket lock file in /tmp must go, and only once the old coordinator is fenced`,
    );
  throw new StandbyCommandFailed(
    `${command}: exit ${exitStatus}${failureWords(lines, 'it did not say the activation completed')}`,
  );
}

/**
 * gpinitstandby -a -s HOST -P PORT -S DIR on the coordinator: created (captures 111, 135, 142),
 * or refused before any change (134: the data directory exists on that host).
 */
export function parseStandbyInitialization(
  command: string,
  text: string,
  exitStatus: number,
  family: VersionFamily,
): void {
  const lines = logLines(text);
  if (exitStatus === 0 && lines.some((m) => m[2]!.startsWith(family.standby.initialized))) return;
  throw new StandbyCommandFailed(
    `${command}: exit ${exitStatus}${failureWords(lines, 'it did not say the standby was created')}`,
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

/**
 * How long gpactivatestandby's ssh to the old coordinator's host may take to connect. Its only
 * guard against two coordinators is `ssh OLD cat /tmp/.s.PGSQL.PORT.lock` (gppylib's
 * ReadPostmasterTempFile, in 6.x, 7.x and Cloudberry alike), run without ConnectTimeout: a host
 * that does not answer (a stopped instance) holds it for the kernel's TCP connect timeout
 * (about 2 minutes), and then it goes on as if no coordinator ran there, since an ssh failure
 * is neither the lock's contents nor "No such file or directory". The fence is what keeps
 * two coordinators apart; this only bounds the wait.
 */
export const OLD_COORDINATOR_CONNECT_SECONDS = 10;

/**
 * The `ssh` gpactivatestandby finds first on PATH: the real one, with a connect timeout, no
 * password prompt, and a session that ends when the host stops answering. ssh takes the first
 * value of each option, so these win over gppylib's own `-o ServerAliveInterval=60`.
 */
const BOUNDED_SSH = [
  '#!/bin/sh',
  `exec "$RECOVERSEG_SSH" -o ConnectTimeout=${OLD_COORDINATOR_CONNECT_SECONDS} -o BatchMode=yes -o ServerAliveInterval=10 -o ServerAliveCountMax=3 "$@"`,
];

/**
 * gpactivatestandby on the standby's host, with its data directory and port set as 6.x/7.x
 * want, and its ssh to the old coordinator's host bounded (OLD_COORDINATOR_CONNECT_SECONDS).
 */
export function activateScript(
  family: VersionFamily,
  standby: Pick<SegmentLocation, 'datadir' | 'port'>,
): string[] {
  return [
    `export ${family.dataDirectoryVariable}=${shellQuote(standby.datadir)}`,
    `export PGPORT=${shellQuote(String(standby.port))}`,
    'RECOVERSEG_SSH=$(command -v ssh) || { echo "recoverseg: no ssh on this host, which gpactivatestandby needs to check the old coordinator" >&2; exit 1; }',
    'export RECOVERSEG_SSH',
    'recoverseg_bin="$RECOVERSEG_STATE_DIR/bin"',
    'mkdir -p -m 700 "$recoverseg_bin"',
    `${writeLinesCommand(BOUNDED_SSH, '"$recoverseg_bin/ssh"')}`,
    'chmod 700 "$recoverseg_bin/ssh"',
    section('activate'),
    `rc=0; PATH="$recoverseg_bin:$PATH" gpactivatestandby -a -d ${shellQuote(standby.datadir)} 2>&1 || rc=$?`,
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
