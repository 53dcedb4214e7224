import { pairsOf, segmentRowSchema, type SegmentRow } from '#domain/segment.ts';
import type { NotReady, NotReadyAnswer, ReplicationState, WalSenderState } from '#cluster/port.ts';
import { MalformedOutput } from './errors.ts';
import type { OutputLine } from './framing.ts';

/** Parsers for `psql -A -t -F '|'` output: one row per line, NULL printed as an empty field. */

function fields(command: string, line: OutputLine, count: number): string[] {
  const values = line.text.split('|');
  if (values.length !== count)
    throw new MalformedOutput(
      command,
      line.number,
      line.text,
      `expected ${count} fields, found ${values.length}`,
    );
  return values;
}

function integer(command: string, line: OutputLine, value: string, what: string): number {
  if (!/^-?\d+$/.test(value))
    throw new MalformedOutput(
      command,
      line.number,
      line.text,
      `${what} ${JSON.stringify(value)} is not an integer`,
    );
  return Number(value);
}

const optionalInteger = (command: string, line: OutputLine, value: string, what: string) =>
  value === '' ? undefined : integer(command, line, value, what);

export function parseSegmentRows(command: string, lines: readonly OutputLine[]): SegmentRow[] {
  return lines.map((line) => {
    const [dbid, content, role, preferredRole, mode, status, port, hostname, address, datadir] =
      fields(command, line, 10) as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
    const parsed = segmentRowSchema.safeParse({
      dbid: integer(command, line, dbid, 'dbid'),
      content: integer(command, line, content, 'content'),
      role,
      preferred_role: preferredRole,
      mode,
      status,
      port: integer(command, line, port, 'port'),
      hostname,
      address,
      datadir,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        `${issue.path.join('.')}: ${issue.message}`,
      );
    }
    return parsed.data;
  });
}

/**
 * What pg_isready's exit status says of an acting primary (libpq's PGPing, the same in every
 * release recoverseg drives): 0 accepting connections and 2 no response (capture 102), 64
 * "mirror ready" for a mirror, which one FTS has just marked acting primary stays for about 5 s
 * until its promotion ends (capture 103), 1 rejecting connections (starting up, in recovery,
 * shutting down). 3 (no attempt made: the arguments were bad) and anything else say nothing.
 */
export const PG_ISREADY_ANSWERS: Readonly<
  Record<number, 'accepting' | 'no-response' | NotReadyAnswer>
> = {
  0: 'accepting',
  1: 'rejecting',
  2: 'no-response',
  64: 'mirror-ready',
};

export interface Responses {
  /** Acting primaries that did not answer (no response). */
  unresponsive: number[];
  /** Acting primaries alive but not ready as primaries yet. */
  notReady: NotReady[];
}

/**
 * The `responds` section: `dbid|rc` per acting primary (content >= 0), rc being the exit status
 * of `pg_isready -h ADDRESS -p PORT` on the coordinator, read through PG_ISREADY_ANSWERS.
 */
export function parseResponses(
  command: string,
  lines: readonly OutputLine[],
  segments: readonly SegmentRow[],
): Responses {
  const actingPrimaries = new Set(
    segments.filter((row) => row.content >= 0 && row.role === 'p').map((row) => row.dbid),
  );
  const seen = new Set<number>();
  const unresponsive: number[] = [];
  const notReady: NotReady[] = [];
  for (const line of lines) {
    const [dbidText, rcText] = fields(command, line, 2) as [string, string];
    const dbid = integer(command, line, dbidText, 'dbid');
    const rc = integer(command, line, rcText, 'pg_isready exit status');
    if (!actingPrimaries.has(dbid))
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        `dbid ${dbid} is not an acting primary in gp_segment_configuration`,
      );
    if (seen.has(dbid))
      throw new MalformedOutput(command, line.number, line.text, `dbid ${dbid} answered twice`);
    seen.add(dbid);
    const answer = Object.hasOwn(PG_ISREADY_ANSWERS, rc) ? PG_ISREADY_ANSWERS[rc] : undefined;
    if (answer === undefined)
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        `pg_isready exit status ${rc} (${rc === 3 ? 'no attempt made' : 'not one libpq defines'}) says nothing about dbid ${dbid}`,
      );
    if (answer === 'no-response') unresponsive.push(dbid);
    else if (answer !== 'accepting') notReady.push({ dbid, answer });
  }
  const missing = [...actingPrimaries].filter((dbid) => !seen.has(dbid));
  if (missing.length > 0)
    throw new MalformedOutput(
      command,
      lines.at(-1)?.number ?? 0,
      lines.at(-1)?.text ?? '',
      `no pg_isready answer for acting primary dbid ${missing.sort((a, b) => a - b).join(', ')}`,
    );
  return {
    unresponsive: unresponsive.sort((a, b) => a - b),
    notReady: notReady.sort((a, b) => a.dbid - b.dbid),
  };
}

const WAL_SENDER_STATES: readonly WalSenderState[] = ['startup', 'backup', 'catchup', 'streaming'];
const WAL_RECEIVER = 'gp_walreceiver';

interface SenderRow {
  content: number;
  applicationName: string;
  state: WalSenderState | undefined;
  syncState: string | undefined;
  syncError: 'none' | 'walread' | undefined;
}

interface LagRow {
  content: number;
  applicationName: string;
  walRemainingBytes: number | undefined;
  replayLagBytes: number | undefined;
}

function parseSenders(command: string, lines: readonly OutputLine[]): SenderRow[] {
  return lines.map((line) => {
    const [content, applicationName, state, syncState, syncError] = fields(command, line, 5) as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (state !== '' && !WAL_SENDER_STATES.includes(state as WalSenderState))
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        `unknown walsender state ${JSON.stringify(state)}`,
      );
    if (syncError !== '' && syncError !== 'none' && syncError !== 'walread')
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        `unknown sync_error ${JSON.stringify(syncError)}`,
      );
    return {
      content: integer(command, line, content, 'gp_segment_id'),
      applicationName,
      state: state === '' ? undefined : (state as WalSenderState),
      syncState: syncState === '' ? undefined : syncState,
      syncError: syncError === '' ? undefined : syncError,
    };
  });
}

function parseLag(command: string, lines: readonly OutputLine[]): LagRow[] {
  return lines.map((line) => {
    const [content, applicationName, remaining, replay] = fields(command, line, 4) as [
      string,
      string,
      string,
      string,
    ];
    return {
      content: integer(command, line, content, 'gp_segment_id'),
      applicationName,
      walRemainingBytes: optionalInteger(command, line, remaining, 'WAL remaining bytes'),
      replayLagBytes: optionalInteger(command, line, replay, 'replay lag bytes'),
    };
  });
}

/** The mirror's walsender when there is one; during a full recovery the only one is pg_basebackup's. */
function preferred<T extends { applicationName: string }>(rows: readonly T[]): T | undefined {
  return rows.find((row) => row.applicationName === WAL_RECEIVER) ?? rows[0];
}

export function parseReplication(
  command: string,
  segments: readonly SegmentRow[],
  senderLines: readonly OutputLine[],
  lagLines: readonly OutputLine[],
): ReplicationState[] {
  // Grouped by content once: a look at 8,000 pairs must not search every row per pair.
  const senders = Map.groupBy(parseSenders(command, senderLines), (row) => row.content);
  const lags = Map.groupBy(parseLag(command, lagLines), (row) => row.content);
  return pairsOf(segments)
    .filter((pair) => pair.mirror !== undefined)
    .map((pair) => {
      const sender = preferred(senders.get(pair.content) ?? []);
      const lag = sender
        ? lags.get(pair.content)?.find((row) => row.applicationName === sender.applicationName)
        : undefined;
      return {
        content: pair.content,
        primaryDbid: pair.primary.dbid,
        state: sender?.state,
        syncState: sender?.syncState,
        syncError: sender?.syncError,
        walRemainingBytes: lag?.walRemainingBytes,
        replayLagBytes: lag?.replayLagBytes,
      };
    });
}
