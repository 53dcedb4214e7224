/**
 * Greenplum management utilities prefix every line with
 * `YYYYMMDD:HH:MM:SS:pid program:host:user-[LEVEL]:-`; the message is what follows. A lock
 * conflict is reported before the host is known, so that one reads `program:default-[ERROR]:-`
 * (real capture 63).
 */
const GP_LOG_LINE = /^\d{8}:\d{2}:\d{2}:\d{2}:\d+ [\w.]+:[^[]*?-(\[([A-Z]+)\]:-(.*))$/;

export interface GpLogMessage {
  /** INFO, WARNING, ERROR, CRITICAL, … or undefined for a line without the prefix. */
  level: string | undefined;
  message: string;
  /**
   * The line from its `[LEVEL]` on. gppylib pads `[INFO]:-` with three spaces to the width of
   * `[WARNING]:-`, so table columns line up in this text whatever the level of the row
   * (gpstate -m prints a failed mirror's row at WARNING: real capture 94d).
   */
  aligned: string;
}

export function gpLogMessage(line: string): GpLogMessage {
  const match = GP_LOG_LINE.exec(line);
  return match
    ? { level: match[2], message: match[3]!, aligned: match[1]! }
    : { level: undefined, message: line, aligned: line };
}

// CSI sequences such as ESC[K and ESC[1A, which gprecoverseg prints on a terminal (capture 97).
const ANSI_ESCAPE = /\x1B\[[0-9;?]*[A-Za-z]/g;
// Any other C0 control character but tab (a terminal display has no business in a parsed line).
const CONTROL = /[\x00-\x08\x0B-\x1F\x7F]/g;

/**
 * What a terminal would show of one output line: escape sequences dropped, and of a line
 * rewritten in place with `\r` only its last version.
 */
export function terminalText(line: string): string {
  const withoutEscapes = line.replace(ANSI_ESCAPE, '').replace(/\r+$/, '');
  return withoutEscapes.slice(withoutEscapes.lastIndexOf('\r') + 1).replace(CONTROL, '');
}
