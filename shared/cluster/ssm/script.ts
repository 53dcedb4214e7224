import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { SsmScriptTooLarge } from '#cluster/greenplum/errors.ts';
import { shellQuote } from '#cluster/greenplum/shell.ts';

/**
 * The most of a script one SendCommand carries in AWS-RunShellScript's `commands`. SSM refuses a
 * document over 64 KB (MaxDocumentSizeExceeded, SSM API reference) and the parameters are
 * substituted into it; 48,000 characters leaves room for the document itself and JSON escaping.
 * It also keeps the plain form's one `bash -c` argument far under Linux's 128 KiB per argument.
 */
export const SSM_COMMAND_LIMIT = 48_000;

/** Staged pieces one script may take (about 2.2 MB compressed: far beyond any plan). */
const MAX_STAGED_PIECES = 48;

/**
 * Root's own directory for staged pieces: under /var/tmp anyone could swap a piece, and the
 * script runs as the admin user.
 */
export const STAGE_DIRECTORY = '/var/lib/recoverseg';

export interface StagingOptions {
  /** STAGE_DIRECTORY unless a test runs the commands as a user who cannot write there. */
  directory?: string;
  /** Names one script's pieces: a retried start stages anew instead of meeting another's. */
  stageId?: () => string;
}

/**
 * The Run Commands that run one script as the admin user, the last being the one whose output
 * is the answer. AWS-RunShellScript runs them with `sh -c` as root, so they are POSIX sh.
 */
export interface ScriptCommands {
  /** Each writes one piece of a script too large for one command; sent first, in order. */
  staging: string[];
  run: string;
}

/**
 * The script as it is (readable in Run Command's history) when it fits one command; else
 * gzip+base64, decoded by the command into a root-only temporary file and fed to `bash -s` as
 * the local and ssh transports feed it; else that text written in pieces by earlier commands.
 * gunzip checks the length and CRC of what arrived, so a piece lost or cut short fails the run
 * before any of the script runs.
 */
export function scriptCommands(
  what: string,
  script: string,
  adminUser: string,
  { directory = STAGE_DIRECTORY, stageId = randomUUID }: StagingOptions = {},
): ScriptCommands {
  const sudo = `sudo -u ${shellQuote(adminUser)} -H`;
  const plain = `${sudo} bash -c ${shellQuote(script)}`;
  if (plain.length <= SSM_COMMAND_LIMIT) return { staging: [], run: plain };

  const packed = gzipSync(script, { level: 9 }).toString('base64');
  const runFrom = (source: string, cleanup: string[]): string =>
    [
      'f=$(mktemp) || exit 1',
      `if ! ${source} | base64 -d | gunzip > "$f"; then`,
      `  rm -f "$f"${cleanup.map((file) => ` ${file}`).join('')}`,
      `  echo ${shellQuote(`recoverseg: ${what}: the script did not arrive whole`)} >&2`,
      '  exit 1',
      'fi',
      ...(cleanup.length > 0 ? [`rm -f ${cleanup.join(' ')}`] : []),
      `${sudo} bash -s < "$f"`,
      'rc=$?',
      'rm -f "$f"',
      'exit $rc',
    ].join('\n');

  const inline = runFrom(`printf '%s' '${packed}'`, []);
  if (inline.length <= SSM_COMMAND_LIMIT) return { staging: [], run: inline };

  const id = stageId();
  const pieceChars = SSM_COMMAND_LIMIT - 200;
  const pieces: string[] = [];
  for (let at = 0; at < packed.length; at += pieceChars)
    pieces.push(packed.slice(at, at + pieceChars));
  if (pieces.length > MAX_STAGED_PIECES)
    throw new SsmScriptTooLarge(what, packed.length, MAX_STAGED_PIECES * pieceChars);
  const files = pieces.map((_, index) => shellQuote(`${directory}/${id}.${index}`));
  return {
    staging: pieces.map(
      (piece, index) =>
        `install -d -m 700 ${shellQuote(directory)} && printf '%s' '${piece}' > ${files[index]}`,
    ),
    run: runFrom(`cat ${files.join(' ')}`, files),
  };
}
