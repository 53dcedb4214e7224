import { recoveryTypeSchema, type RecoveryType } from '#domain/events.ts';
import { MalformedOutput } from './errors.ts';
import { gpLogMessage, terminalText } from './gplog.ts';

/**
 * Parsers for `gpstate -m` and `gpstate -e`. gpstate prints tables with gppylib's TableLogger:
 * every column left-aligned to its widest cell, so a column starts at the same offset in the
 * header and in every row, and cells may be blank or contain single spaces ("Not In Sync").
 */

interface Message {
  number: number;
  level: string | undefined;
  text: string;
  /** The line with its log prefix blanked out, so columns line up whatever the row's level. */
  row: string;
}

function messages(output: string): Message[] {
  return output.split('\n').map((line, index) => {
    const { level, message, aligned } = gpLogMessage(terminalText(line));
    return {
      number: index + 1,
      level,
      text: message,
      row: aligned.replace(/^\[[A-Z]+\]:-/, (prefix) => ' '.repeat(prefix.length)),
    };
  });
}

interface Column {
  name: string;
  start: number;
}

function columnsOf(header: string): Column[] {
  return [...header.matchAll(/\S+(?: \S+)*/g)].map((match) => ({
    name: match[0],
    start: match.index,
  }));
}

const WARN_ARROWS = /\s*<+\s*$/;

function cells(command: string, columns: readonly Column[], row: Message): string[] {
  const text = row.row.replace(WARN_ARROWS, '');
  return columns.map((column, index) => {
    if (column.start > 0 && text.length > column.start && text[column.start - 1] !== ' ')
      throw new MalformedOutput(
        command,
        row.number,
        row.text,
        `row does not line up with column "${column.name}"`,
      );
    const end = columns[index + 1]?.start ?? text.length;
    return text.slice(column.start, Math.max(column.start, end)).trim();
  });
}

function portOf(command: string, row: Message, value: string): number {
  if (!/^\d{1,5}$/.test(value))
    throw new MalformedOutput(
      command,
      row.number,
      row.text,
      `port ${JSON.stringify(value)} is not a number`,
    );
  return Number(value);
}

function checkExitStatus(
  command: string,
  output: string,
  exitStatus: number | undefined,
  expected: number,
): void {
  if (exitStatus !== undefined && exitStatus !== expected)
    throw new MalformedOutput(
      command,
      0,
      '',
      `exit status ${exitStatus}, but the report it printed means exit status ${expected}`,
      output,
    );
}

/** A MalformedOutput raised on one line, given the first lines of the whole output too. */
function withFirstLines<T>(output: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof MalformedOutput) || error.firstLines.length > 0) throw error;
    throw new MalformedOutput(error.command, error.lineNumber, error.line, error.problem, output);
  }
}

const isRule = (text: string): boolean => /^-{5,}$/.test(text.trim());

// ---------------------------------------------------------------------------------------------
// gpstate -m

export type MirrorStatus = 'Passive' | 'Acting as Primary' | 'Failed';
export type DataStatus = 'Synchronized' | 'Not In Sync';

export interface GpstateMirror {
  address: string;
  datadir: string;
  port: number;
  status: MirrorStatus;
  /** Blank in gpstate for a failed mirror. */
  dataStatus: DataStatus | undefined;
}

export interface GpstateMirrorList {
  mirroring: 'Group' | 'Spread' | 'None';
  mirrors: GpstateMirror[];
}

const MIRROR_STATUSES: readonly MirrorStatus[] = ['Passive', 'Acting as Primary', 'Failed'];
const DATA_STATUSES: readonly DataStatus[] = ['Synchronized', 'Not In Sync'];

/**
 * `exitStatus`, when the caller kept it: gpstate -m exits 1 exactly when a mirror failed, so a
 * status that disagrees with the report means the report was not all of gpstate's answer.
 */
export function parseGpstateMirrors(output: string, exitStatus?: number): GpstateMirrorList {
  return withFirstLines(output, () => {
    const list = readMirrorList(output);
    const failed = list.mirrors.some((mirror) => mirror.status === 'Failed');
    checkExitStatus('gpstate -m', output, exitStatus, failed ? 1 : 0);
    return list;
  });
}

function readMirrorList(output: string): GpstateMirrorList {
  const command = 'gpstate -m';
  const lines = messages(output);
  if (lines.some((line) => line.text.trim() === 'Mirror not used'))
    return { mirroring: 'None', mirrors: [] };
  const typeLine = lines.find((line) => /^-Type = /.test(line.text));
  const mirroring = typeLine && /^-Type = (Group|Spread)$/.exec(typeLine.text.trim())?.[1];
  if (!typeLine || !mirroring)
    throw new MalformedOutput(
      command,
      typeLine?.number ?? 0,
      typeLine?.text ?? '',
      'no "-Type = Group|Spread" line',
    );
  const headerIndex = lines.findIndex((line) =>
    /^\s*Mirror\s+Datadir\s+Port\s+Status\s+Data Status\s*$/.test(line.text),
  );
  if (headerIndex < 0) throw new MalformedOutput(command, 0, '', 'no mirror list header');
  const columns = columnsOf(lines[headerIndex]!.row);
  const mirrors: GpstateMirror[] = [];
  for (const row of lines.slice(headerIndex + 1)) {
    if (isRule(row.text)) break;
    const [address, datadir, port, status, dataStatus] = cells(command, columns, row) as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (!MIRROR_STATUSES.includes(status as MirrorStatus))
      throw new MalformedOutput(
        command,
        row.number,
        row.text,
        `unknown mirror status ${JSON.stringify(status)}`,
      );
    if (dataStatus !== '' && !DATA_STATUSES.includes(dataStatus as DataStatus))
      throw new MalformedOutput(
        command,
        row.number,
        row.text,
        `unknown data status ${JSON.stringify(dataStatus)}`,
      );
    mirrors.push({
      address,
      datadir,
      port: portOf(command, row, port),
      status: status as MirrorStatus,
      dataStatus: dataStatus === '' ? undefined : (dataStatus as DataStatus),
    });
  }
  return { mirroring: mirroring as 'Group' | 'Spread', mirrors };
}

// ---------------------------------------------------------------------------------------------
// gpstate -e

export interface SwitchedPair {
  currentPrimary: string;
  port: number;
  mirror: string;
  mirrorPort: number;
}

export interface UnsynchronizedPair extends SwitchedPair {
  /** `Unknown` when the mirror has no replication connection; absent before Greenplum 7. */
  walSyncRemainingBytes: number | 'Unknown' | undefined;
}

export interface DownedSegment {
  segment: string;
  port: number;
  configStatus: string;
  status: string;
}

export interface SegmentInRecovery {
  segment: string;
  port: number;
  recoveryType: RecoveryType;
  /** Differential recoveries report a stage instead of a total. */
  stage: string | undefined;
  completedKb: number;
  totalKb: number | undefined;
  percent: number;
}

export interface GpstateErrorReport {
  allNormal: boolean;
  /** gpstate's own warning, e.g. when a content has no live copy (capture 80d). */
  databaseProbablyUnavailable: boolean;
  /** Segments gpstate could not query: `could not query segment 9 (sdw1:7003)`. */
  couldNotQuery: { dbid: number; address: string; port: number }[];
  rolesSwitched: SwitchedPair[];
  unsynchronized: UnsynchronizedPair[];
  downed: DownedSegment[];
  inRecovery: SegmentInRecovery[];
}

type SectionName = 'rolesSwitched' | 'unsynchronized' | 'downed' | 'inRecovery';

const SECTION_TITLES: readonly [RegExp, SectionName][] = [
  [/^Segments with Primary and Mirror Roles Switched$/, 'rolesSwitched'],
  [/^Unsynchronized Segment Pairs$/, 'unsynchronized'],
  [/^Downed Segments\b/, 'downed'],
  [/^Segments in recovery$/, 'inRecovery'],
];

interface Table {
  name: SectionName;
  columns: Column[] | undefined;
  rows: Message[];
}

const numberCell = (command: string, row: Message, value: string, what: string): number => {
  const digits = value.replaceAll(',', '').replace(/%$/, '');
  if (!/^\d+$/.test(digits))
    throw new MalformedOutput(
      command,
      row.number,
      row.text,
      `${what} ${JSON.stringify(value)} is not a number`,
    );
  return Number(digits);
};

/** gpstate -e exits 1 whenever it lists anything (clsSystemState), 0 when all is normal. */
export function parseGpstateErrors(output: string, exitStatus?: number): GpstateErrorReport {
  return withFirstLines(output, () => {
    const report = readErrorReport(output);
    checkExitStatus('gpstate -e', output, exitStatus, report.allNormal ? 0 : 1);
    return report;
  });
}

function readErrorReport(output: string): GpstateErrorReport {
  const command = 'gpstate -e';
  const lines = messages(output);
  const start = lines.findIndex((line) => line.text.trim() === 'Segment Mirroring Status Report');
  if (start < 0) throw new MalformedOutput(command, 0, '', 'no "Segment Mirroring Status Report"');
  const tables: Table[] = [];
  let allNormal = false;
  let databaseProbablyUnavailable = false;
  const couldNotQuery: GpstateErrorReport['couldNotQuery'] = [];
  let table: Table | undefined;
  for (const line of lines.slice(start + 1)) {
    const text = line.text.trim();
    const title = SECTION_TITLES.find(([pattern]) => pattern.test(text));
    if (title) {
      table = { name: title[1], columns: undefined, rows: [] };
      tables.push(table);
    } else if (text === 'All segments are running normally') {
      allNormal = true;
      table = undefined;
    } else if (isRule(text) || /^\*+$/.test(text)) {
      table = undefined;
    } else if (line.level === 'WARNING' || line.level === 'ERROR') {
      // Warnings interleave with the tables (capture 80d); rows are always INFO.
      if (text === 'DATABASE IS PROBABLY UNAVAILABLE') databaseProbablyUnavailable = true;
      const unqueried = /^could not query segment (\d+) \((\S+):(\d+)\)$/.exec(text);
      if (unqueried && !couldNotQuery.some((s) => s.dbid === Number(unqueried[1])))
        couldNotQuery.push({
          dbid: Number(unqueried[1]),
          address: unqueried[2]!,
          port: Number(unqueried[3]),
        });
    } else if (table && !table.columns) {
      table.columns = columnsOf(line.row);
    } else if (table && text !== '') {
      table.rows.push(line);
    }
  }

  const report: GpstateErrorReport = {
    allNormal,
    databaseProbablyUnavailable,
    couldNotQuery,
    rolesSwitched: [],
    unsynchronized: [],
    downed: [],
    inRecovery: [],
  };
  for (const { name, columns, rows } of tables) {
    if (!columns) throw new MalformedOutput(command, 0, '', `section ${name} has no header`);
    for (const row of rows) {
      const values = cells(command, columns, row);
      const at = (index: number): string => values.at(index)!;
      const get = (column: string): string | undefined => {
        const index = columns.findIndex((c) => c.name === column);
        return index < 0 ? undefined : values[index];
      };
      if (name === 'rolesSwitched' || name === 'unsynchronized') {
        // Pair tables: current primary and port first, its mirror and port last.
        const pair: SwitchedPair = {
          currentPrimary: at(0),
          port: portOf(command, row, at(1)),
          mirror: at(-2),
          mirrorPort: portOf(command, row, at(-1)),
        };
        if (name === 'rolesSwitched') report.rolesSwitched.push(pair);
        else {
          const remaining = get('WAL sync remaining bytes');
          report.unsynchronized.push({
            ...pair,
            walSyncRemainingBytes:
              remaining === undefined || remaining === ''
                ? undefined
                : remaining === 'Unknown'
                  ? 'Unknown'
                  : numberCell(command, row, remaining, 'WAL sync remaining bytes'),
          });
        }
      } else if (name === 'downed') {
        report.downed.push({
          segment: at(0),
          port: portOf(command, row, at(1)),
          configStatus: get('Config status') ?? '',
          status: get('Status') ?? '',
        });
      } else {
        const type = recoveryTypeSchema.safeParse(get('Recovery type'));
        if (!type.success)
          throw new MalformedOutput(
            command,
            row.number,
            row.text,
            `unknown recovery type ${JSON.stringify(get('Recovery type'))}`,
          );
        const total = get('Total bytes (kB)');
        report.inRecovery.push({
          segment: at(0),
          port: portOf(command, row, at(1)),
          recoveryType: type.data,
          stage: get('Stage') || undefined,
          completedKb: numberCell(command, row, get('Completed bytes (kB)') ?? '', 'completed kB'),
          totalKb: total ? numberCell(command, row, total, 'total kB') : undefined,
          percent: numberCell(command, row, get('Percentage completed') ?? '', 'percentage'),
        });
      }
    }
  }
  if (!allNormal && tables.length === 0)
    throw new MalformedOutput(
      command,
      lines.at(-1)?.number ?? 0,
      lines.at(-1)?.text ?? '',
      'neither problems nor "All segments are running normally"',
    );
  return report;
}
