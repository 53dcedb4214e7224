import type { OperationHandle } from '#cluster/port.ts';
import { section, validateHandle } from './commands.ts';
import { shellQuote } from './shell.ts';

/**
 * What gprecoverseg prints that decides an operation's outcome. The log of a full recovery can
 * be hours of progress lines, so poll sends only these lines plus the last progress line per
 * dbid.
 */
export const OUTCOME_LINE_PATTERN = [
  '@@recoverseg:',
  '\\[(ERROR|CRITICAL|FATAL)\\]',
  'Failed to ',
  'hostname: .*; port: ',
  'Segments successfully recovered',
  'No segments',
  'Not rebalancing',
  'Only one of',
  'not supported',
  'no such option',
  'Invalid ',
  'gprecoverseg\\.lock',
  'already running',
  'unreachable',
  'still to be replayed',
  'pg_rewind: (fatal|error)',
].join('|');

const LAST_PROGRESS_PER_DBID =
  '/[0-9]%/ && match($0, /\\(dbid [0-9]+\\)/) { k = substr($0, RSTART, RLENGTH); if (!(k in last)) order[++n] = k; last[k] = $0 } ' +
  'END { for (i = 1; i <= n; i++) print last[order[i]] }';

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
    `{ grep -a -o -E '[^ ]+ \\(dbid [0-9]+\\): .*' "$op.log" 2>/dev/null || true; } | awk ${shellQuote(LAST_PROGRESS_PER_DBID)}`,
    section('messages'),
    `{ grep -a -E ${shellQuote(OUTCOME_LINE_PATTERN)} "$op.log" 2>/dev/null || true; } | { grep -a -v -E '\\(dbid [0-9]+\\): ' || true; } | tail -n 1000`,
  ];
}
