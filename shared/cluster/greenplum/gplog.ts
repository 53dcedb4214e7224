/**
 * Greenplum management utilities prefix every line with
 * `YYYYMMDD:HH:MM:SS:pid program:host:user-[LEVEL]:-`; the message is what follows.
 */
const GP_LOG_LINE = /^\d{8}:\d{2}:\d{2}:\d{2}:\d+ [\w.]+:[^:]*:[^\s[]*-\[([A-Z]+)\]:-(.*)$/;

export interface GpLogMessage {
  /** INFO, WARNING, ERROR, CRITICAL, … or undefined for a line without the prefix. */
  level: string | undefined;
  message: string;
}

export function gpLogMessage(line: string): GpLogMessage {
  const match = GP_LOG_LINE.exec(line);
  return match ? { level: match[1], message: match[2]! } : { level: undefined, message: line };
}
