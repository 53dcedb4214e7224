import type { OperationHandle } from '#cluster/port.ts';
import { section, validateHandle } from './commands.ts';
import { shellQuote } from './shell.ts';

/**
 * What gprecoverseg prints that decides an operation's outcome (texts of Greenplum 6.24.3,
 * gppylib's mainUtils, clsRecoverSegment, recoveryinfo and rebalanceSegments). The log of a full
 * recovery can be hours of progress lines and a `pg_controldata` dump per segment, so poll sends
 * only these lines, the lines continuing an error message, and the last lines per dbid.
 */
export const OUTCOME_LINE_PATTERN = [
  '@@recoverseg:',
  '\\[(ERROR|CRITICAL|FATAL)\\]',
  // Argument refusals: optparse's and gppylib's "gprecoverseg: error: ...", exit 2.
  'gprecoverseg:? error',
  'Lockfile ',
  // Summaries: "Failed to recover/start/setup the following segments" and their rows.
  'Failed to ',
  'Did not start the following segments',
  'hostname: .*; port: ',
  'Segments successfully recovered',
  'No segments to recover',
  // Skipped segments, with exit status 0.
  'Not recovering segment',
  'Found pg_basebackup running',
  'unreachable',
  // Rebalance.
  'Not rebalancing',
  'No segments to rebalance',
  'No segments are running in their non-preferred role',
  'rebalance operation has completed',
  'still to be replayed',
  'pg_rewind: (fatal|error)',
].join('|');

/** How many lines of an error message poll sends after its first (capture 82 needs five). */
const CONTINUATION_LINES = 20;
/** Longer lines are cut: an answer must fit in one Run Command's output. */
const LINE_WIDTH = 1000;

/**
 * Continuation lines are sent marked, so the parser can tell them from lines gprecoverseg
 * printed on their own.
 */
export const CONTINUATION_MARKER = '@@recoverseg:continued@@';

const GP_LOG_PREFIX =
  '^[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]:[0-9][0-9]:[0-9][0-9]:[0-9][0-9]:[0-9]+ ';

// POSIX awk without interval expressions: mawk (Debian, Ubuntu) does not take them.
const MESSAGES = [
  `BEGIN { pattern = ENVIRON["RECOVERSEG_OUTCOME"]; prefix = "${GP_LOG_PREFIX}"; more = 0 }`,
  `{ sub(/\\r+$/, ""); line = substr($0, 1, ${LINE_WIDTH}) }`,
  '/^@@recoverseg:/ { more = 0; print line; next }',
  '/\\(dbid [0-9]+\\): / { next }',
  `$0 ~ prefix { more = ($0 ~ /-\\[(ERROR|CRITICAL|FATAL)\\]:-/) ? ${CONTINUATION_LINES} : 0; if ($0 ~ pattern) print line; next }`,
  `more > 0 { more--; print "${CONTINUATION_MARKER}" line; next }`,
  '$0 ~ pattern { print line }',
].join('\n');

/** Per dbid: its last line with a percentage (progress), then its last line if that differs (how it ended). */
const LAST_LINES_PER_DBID = [
  'match($0, /\\(dbid [0-9]+\\)/) {',
  '  k = substr($0, RSTART, RLENGTH)',
  '  if (!(k in last)) order[++n] = k',
  `  last[k] = substr($0, 1, ${LINE_WIDTH})`,
  '  if ($0 ~ /[0-9]%/) progress[k] = last[k]',
  '}',
  'END {',
  '  for (i = 1; i <= n; i++) {',
  '    k = order[i]',
  '    if (k in progress) print progress[k]',
  '    if (!(k in progress) || progress[k] != last[k]) print last[k]',
  '  }',
  '}',
].join('\n');

export function pollScript(handle: OperationHandle): string[] {
  const { operationId } = validateHandle(handle);
  return [
    `op="$RECOVERSEG_STATE_DIR/${operationId}"`,
    section('operation'),
    'if [ -e "$op.exit" ]; then echo "exit|$(cat "$op.exit")"',
    'elif [ ! -e "$op.pid" ]; then echo "missing"',
    'elif kill -0 "$(cat "$op.pid")" 2>/dev/null; then echo "running"',
    'else echo "vanished"; fi',
    section('plan'),
    'cat "$op.plan" 2>/dev/null || true',
    section('progress'),
    `{ grep -a -o -E '[^ ]+ \\(dbid [0-9]+\\): .*' "$op.log" 2>/dev/null || true; } | awk ${shellQuote(LAST_LINES_PER_DBID)}`,
    section('messages'),
    `{ cat "$op.log" 2>/dev/null || true; } | RECOVERSEG_OUTCOME=${shellQuote(OUTCOME_LINE_PATTERN)} awk ${shellQuote(MESSAGES)} | tail -n 1000`,
  ];
}
