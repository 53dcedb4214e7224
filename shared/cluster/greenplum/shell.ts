/**
 * POSIX single-quoting: inside '…' nothing is special, so the only character to handle is the
 * quote itself. Values are validated by the domain schemas before they get here; quoting is the
 * second wall, not the first.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new TypeError('a shell word cannot contain NUL');
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** `printf '%s\n' …` writes lines verbatim: no heredoc delimiter to collide with, no expansion. */
export function writeLinesCommand(lines: readonly string[], targetExpression: string): string {
  if (lines.length === 0) return `: > ${targetExpression}`;
  return `printf '%s\\n' ${lines.map(shellQuote).join(' ')} > ${targetExpression}`;
}
