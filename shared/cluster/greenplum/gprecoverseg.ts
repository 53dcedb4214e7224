import { recoveryTypeSchema, type RecoveryType } from '#domain/events.ts';
import type {
  RunningGprecoverseg,
  OperationHandle,
  OperationStatus,
  SegmentFailure,
  SegmentProgress,
} from '#cluster/port.ts';
import {
  GprecoversegFailed,
  GprecoversegFlagConflict,
  GprecoversegLocked,
  StaleGprecoversegLock,
  HostUnreachable,
  MalformedOutput,
  OperationNotFound,
  RebalanceReplayLagExceeded,
  type NamedSegment,
} from './errors.ts';
import { section, singleLine, splitSections, type OutputLine } from './framing.ts';
import { gpLogMessage, terminalText } from './gplog.ts';
import { CONTINUATION_MARKER } from './poll.ts';

/** Parses what `pollScript` sends back about a background gprecoverseg run. */

interface PlannedSegment {
  dbid: number;
  content: number;
  type: RecoveryType;
  host: string;
  port: number;
  /** The runner phase that recovers it: its type, or `relocate` for a 6.x `-p` run. */
  phase: string;
}

type RunState = { kind: 'running' } | { kind: 'exited'; code: number };

function parseRunState(
  command: string,
  operationId: string,
  lines: readonly OutputLine[],
): RunState {
  const line = singleLine(command, lines, 'one operation state line');
  if (line.text === 'running') return { kind: 'running' };
  if (line.text === 'missing') throw new OperationNotFound(operationId);
  if (line.text === 'vanished')
    throw new GprecoversegFailed(
      -1,
      `${operationId} stopped without recording an exit code (coordinator restarted or the process was killed)`,
    );
  const exited = /^exit\|(\d+)$/.exec(line.text);
  if (!exited)
    throw new MalformedOutput(command, line.number, line.text, 'unknown operation state');
  return { kind: 'exited', code: Number(exited[1]) };
}

function parsePlan(command: string, lines: readonly OutputLine[]): PlannedSegment[] {
  return lines.map((line) => {
    const match = /^(\d+)\|(\d+)\|([a-z]+)\|([^|]+)\|(\d+)(?:\|([a-z]+))?$/.exec(line.text);
    const type = recoveryTypeSchema.safeParse(match?.[3]);
    if (!match || !type.success)
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        'expected dbid|content|type|host|port[|phase]',
      );
    return {
      dbid: Number(match[1]),
      content: Number(match[2]),
      type: type.data,
      host: match[4]!,
      port: Number(match[5]),
      phase: match[6] ?? type.data,
    };
  });
}

const KB_PROGRESS = /(\d+)\/(\d+) (kB|mB) \((\d+)%\)/;
// rsync --info=progress2 during a differential recovery: bytes so far and percent, no total.
const RSYNC_PROGRESS = /^\s*([\d,]+)\s+(\d+)%/;

interface SegmentLines {
  progress: SegmentProgress[];
  /** Every dbid gprecoverseg printed a `host (dbid N): …` line for. */
  named: Set<number>;
  /** Per dbid, its last line when that is not progress: "Done!", "Failure, exiting", … */
  lastWords: Map<number, string>;
}

function parseSegmentLines(
  command: string,
  lines: readonly OutputLine[],
  typeOf: (dbid: number) => RecoveryType | undefined,
): SegmentLines {
  const result: SegmentLines = { progress: [], named: new Set(), lastWords: new Map() };
  for (const line of lines) {
    const match = /^\S+ \(dbid (\d+)\): (.*)$/.exec(terminalText(line.text).trim());
    if (!match)
      throw new MalformedOutput(command, line.number, line.text, 'expected "host (dbid N): …"');
    const dbid = Number(match[1]);
    const text = match[2]!.trim();
    result.named.add(dbid);
    const type = typeOf(dbid);
    const kb = KB_PROGRESS.exec(text);
    const rsync = kb ? undefined : RSYNC_PROGRESS.exec(text);
    if (kb && type) {
      const unit = kb[3] === 'mB' ? 1024 : 1;
      result.progress.push({
        dbid,
        type,
        completedKb: Number(kb[1]) * unit,
        totalKb: Number(kb[2]) * unit,
        percent: Number(kb[4]),
      });
    } else if (rsync && type) {
      const completedKb = Math.floor(Number(rsync[1]!.replaceAll(',', '')) / 1024);
      const percent = Number(rsync[2]);
      result.progress.push({
        dbid,
        type,
        completedKb,
        totalKb: percent > 0 ? Math.round((completedKb * 100) / percent) : 0,
        percent,
      });
    } else if (!kb && !rsync) result.lastWords.set(dbid, text);
  }
  return result;
}

/** One message: a line of gprecoverseg's output and the lines continuing it. */
interface Message {
  line: OutputLine;
  level: string | undefined;
  text: string;
}

function messagesOf(command: string, lines: readonly OutputLine[]): Message[] {
  const messages: Message[] = [];
  for (const line of lines) {
    const clean = terminalText(line.text);
    if (clean.startsWith(CONTINUATION_MARKER)) {
      const previous = messages.at(-1);
      const more = clean.slice(CONTINUATION_MARKER.length).trim();
      if (!previous || previous.text.startsWith('@@recoverseg:'))
        throw new MalformedOutput(command, line.number, line.text, 'continuation of no message');
      if (more !== '') previous.text = `${previous.text} ${more}`;
      continue;
    }
    const { level, message } = gpLogMessage(clean);
    messages.push({ line, level, text: message });
  }
  return messages;
}

type Listing = 'copy' | 'start' | 'setup' | 'update' | undefined;

interface Phase {
  name: string;
  exitCode: number | undefined;
  failures: Map<number, SegmentFailure>;
  /** `Segments successfully recovered.` or `The rebalance operation has completed successfully.` */
  succeeded: boolean;
  /** `No segments to recover`, or a rebalance with nothing to rebalance. */
  nothingToDo: string | undefined;
  /** Planned segments gprecoverseg said it would not recover, and why (exit status 0). */
  skippedDbids: Map<number, string>;
  skippedContents: Map<number, string>;
  skippedPairs: { content: number; reason: string }[];
  critical: boolean;
  /** ERROR, CRITICAL and FATAL messages, and lines printed without the log prefix. */
  errors: string[];
  rebalanceWarning: string | undefined;
  refused: string | undefined;
}

const FAILURE_LINE =
  /hostname: (\S+); port: (\d+); logfile: (\S+); recoverytype: (\w+)(?:; error: (.*))?$/;
const START_FAILURE_LINE = /hostname: (\S+); port: (\d+); datadir: (\S+)(?:; error: (.*))?$/;
const SETUP_FAILURE_LINE = /hostname: (\S+); port: (\d+); error: (.*)$/;
const COPY_TOOL: Record<string, string> = {
  incremental: 'pg_rewind',
  differential: 'rsync',
  full: 'pg_basebackup',
};

function scanMessages(
  command: string,
  lines: readonly OutputLine[],
  plan: readonly PlannedSegment[],
  lastWords: ReadonlyMap<number, string>,
): Phase[] {
  const phases: Phase[] = [];
  let phase: Phase | undefined;
  let listing: Listing;
  // By address and by dbid: an 8,000-segment run can list every segment as failed.
  const byAddress = new Map(plan.map((segment) => [`${segment.host}:${segment.port}`, segment]));
  const byDbid = new Map(plan.map((segment) => [segment.dbid, segment]));
  const dbidAt = (host: string, port: number) => byAddress.get(`${host}:${port}`)?.dbid;
  const unknownSegment = (message: Message): never => {
    throw new MalformedOutput(
      command,
      message.line.number,
      message.line.text,
      'segment failure names no planned segment',
    );
  };

  for (const message of messagesOf(command, lines)) {
    const { line, level, text } = message;
    const marker = /^@@recoverseg:phase (\w+)@@$/.exec(text);
    if (marker) {
      phase = {
        name: marker[1]!,
        exitCode: undefined,
        failures: new Map(),
        succeeded: false,
        nothingToDo: undefined,
        skippedDbids: new Map(),
        skippedContents: new Map(),
        skippedPairs: [],
        critical: false,
        errors: [],
        rebalanceWarning: undefined,
        refused: undefined,
      };
      phases.push(phase);
      listing = undefined;
      continue;
    }
    // The runner's own refusal to run a phase (a 6.x -p preview that differs from the plan).
    const refusedPhase = /^@@recoverseg:refused (\w+) (.*)@@$/.exec(text);
    if (refusedPhase) {
      if (!phase || phase.name !== refusedPhase[1])
        throw new MalformedOutput(command, line.number, line.text, 'refusal outside its phase');
      phase.refused = `recoverseg did not run gprecoverseg: ${refusedPhase[2]}`;
      continue;
    }
    const exit = /^@@recoverseg:phase-exit (\w+) (\d+)@@$/.exec(text);
    if (exit) {
      if (!phase || phase.name !== exit[1] || phase.exitCode !== undefined)
        throw new MalformedOutput(command, line.number, line.text, 'phase exit without its phase');
      phase.exitCode = Number(exit[2]);
      continue;
    }
    if (!phase)
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        'gprecoverseg output before any phase',
      );

    const lock =
      /Lockfile (\S+) indicates that an instance of gprecoverseg is already running with PID (\d+)/.exec(
        text,
      );
    if (lock) throw new GprecoversegLocked(Number(lock[2]), lock[1]);
    if (/^If this is not the case, remove the lockfile directory/.test(text)) continue;

    // gppylib's and optparse's refusal of the arguments (exit 2), e.g. "no such option: --replay-lag".
    const refused = /gprecoverseg: error: (.*)$/.exec(text);
    if (refused) throw new GprecoversegFlagConflict(refused[1]!.trim());

    // Greenplum 7 and Cloudberry: `--replay-lag` refuses the whole rebalance.
    const lag = /(\d+) bytes of wal is still to be replayed on mirror with dbid (\d+)/.exec(text);
    if (lag) throw new RebalanceReplayLagExceeded(Number(lag[2]), Number(lag[1]));

    const targets = /The following recovery target hosts are unreachable: (.*)$/.exec(text);
    if (targets)
      throw new HostUnreachable(
        [...targets[1]!.matchAll(/[A-Za-z0-9._-]+/g)].map((m) => m[0]),
        'gprecoverseg cannot reach the recovery target hosts; bring them up or choose other hosts',
      );
    const endpoint =
      /The recovery (source|target) segment (\S+) \(content (\d+)\) is unreachable/.exec(text);
    if (endpoint)
      throw new HostUnreachable(
        [endpoint[2]!],
        `the recovery ${endpoint[1]} of content ${endpoint[3]} cannot be reached over ssh`,
      );

    const notRecovering = /Not recovering segment (\d+) because (\S+) is unreachable/.exec(text);
    if (notRecovering) {
      phase.skippedDbids.set(Number(notRecovering[1]), text.trim());
      continue;
    }
    const copying =
      /Found pg_basebackup running for segments with contentIds \[([\d, ]*)\], skipping recovery/.exec(
        text,
      );
    if (copying) {
      for (const content of copying[1]!.match(/\d+/g) ?? [])
        phase.skippedContents.set(Number(content), text.trim());
      continue;
    }

    if (/^Failed to start the following segments/.test(text)) listing = 'start';
    else if (/^Failed to setup recovery for the following segments/.test(text)) listing = 'setup';
    else if (/^Failed to \w+ the following segments/.test(text)) listing = 'copy';
    else if (/^Did not start the following segments/.test(text)) listing = 'update';

    const failure = FAILURE_LINE.exec(text);
    if (failure) {
      const recoveryType = recoveryTypeSchema.safeParse(failure[4]);
      // The progress file name carries the dbid; older releases' lines may not.
      const fromLogfile = /dbid(\d+)\.out$/.exec(failure[3]!)?.[1];
      const dbid = fromLogfile ? Number(fromLogfile) : dbidAt(failure[1]!, Number(failure[2]));
      if (!recoveryType.success || dbid === undefined) unknownSegment(message);
      const type = recoveryType.data!;
      const said = failure[5] && failure[5] !== 'None' ? failure[5] : lastWords.get(dbid!);
      phase.failures.set(dbid!, {
        dbid: dbid!,
        type,
        reason: `${COPY_TOOL[type]} failed${said ? `: ${said}` : ''} (its log: ${failure[1]}:${failure[3]})`,
        needsFull: type !== 'full',
      });
      continue;
    }
    const started = START_FAILURE_LINE.exec(text);
    const setup = started ? undefined : SETUP_FAILURE_LINE.exec(text);
    const other = started ?? setup;
    if (other) {
      const planned = byAddress.get(`${other[1]}:${other[2]}`);
      if (!planned) unknownSegment(message);
      const where = `${other[1]}:${other[2]}`;
      const reason = setup
        ? `recovery setup failed on ${where}: ${setup[3]}`
        : listing === 'update'
          ? `not started: updating its port in ${started![3]}/postgresql.conf on ${other[1]} failed`
          : `failed to start after recovery${started![4] && started![4] !== 'None' ? `: ${started![4]}` : ''}; see the latest log in ${started![3]} on ${other[1]}`;
      phase.failures.set(planned!.dbid, {
        dbid: planned!.dbid,
        type: planned!.type,
        reason,
        needsFull: false,
      });
      continue;
    }

    if (/Segments successfully recovered/.test(text)) phase.succeeded = true;
    else if (/The rebalance operation has completed successfully/.test(text))
      phase.succeeded = true;
    else if (/The rebalance operation has completed with WARNINGS/.test(text))
      phase.rebalanceWarning = text.trim();
    else if (
      /^(No segments to recover|No segments to rebalance|No segments are running in their non-preferred role)/.test(
        text,
      )
    )
      phase.nothingToDo = text.trim();

    const notRebalanced =
      /Not rebalancing primary segment dbid (\d+) with its mirror dbid \d+ because (.*)$/.exec(
        text,
      );
    if (notRebalanced) {
      const primary = byDbid.get(Number(notRebalanced[1]));
      if (!primary)
        throw new MalformedOutput(
          command,
          line.number,
          line.text,
          'skipped pair names an unknown dbid',
        );
      phase.skippedPairs.push({ content: primary.content, reason: notRebalanced[2]! });
      continue;
    }
    if (level === 'CRITICAL' || level === 'FATAL') phase.critical = true;
    if (level === 'ERROR' || level === 'CRITICAL' || level === 'FATAL' || level === undefined)
      phase.errors.push(text.trim());
  }
  return phases;
}

/** Segments a Greenplum error names as `(seg3 127.0.0.1:7003)`. */
function namedSegments(text: string): NamedSegment[] {
  return [...text.matchAll(/\(seg(\d+) ([^\s:()]+):(\d+)\)/g)].map((match) => ({
    content: Number(match[1]),
    address: match[2]!,
    port: Number(match[3]),
  }));
}

/** A finished phase that failed as a whole: no segment to blame, so the run fails. */
function phaseFailed(phase: Phase, fallback: string): GprecoversegFailed {
  const detail = phase.errors.length > 0 ? phase.errors.join(' ') : fallback;
  return new GprecoversegFailed(phase.exitCode ?? -1, detail, namedSegments(detail));
}

/** Why a planned segment was not recovered though gprecoverseg may have exited 0. */
function skipReason(phase: Phase, segment: PlannedSegment): string | undefined {
  const said = phase.skippedDbids.get(segment.dbid) ?? phase.skippedContents.get(segment.content);
  return said && `gprecoverseg skipped dbid ${segment.dbid}: ${said}`;
}

export function parseOperationOutput(handle: OperationHandle, output: string): OperationStatus {
  try {
    return parseOperation(handle, output);
  } catch (error) {
    throw withFirstLines(error, output);
  }
}

/** A MalformedOutput raised on one line, given the first lines of the whole answer too. */
function withFirstLines(error: unknown, output: string): unknown {
  if (!(error instanceof MalformedOutput) || error.firstLines.length > 0) return error;
  return new MalformedOutput(error.command, error.lineNumber, error.line, error.problem, output);
}

function parseOperation(handle: OperationHandle, output: string): OperationStatus {
  const command = `poll ${handle.operationId}`;
  const sections = splitSections(command, output);
  const state = parseRunState(command, handle.operationId, section(command, sections, 'operation'));
  const plan = parsePlan(command, section(command, sections, 'plan'));
  const planned = new Map(plan.map((segment) => [segment.dbid, segment]));
  // A rebalance's plan is every segment: its nested recovery is always incremental.
  const typeOf = (dbid: number): RecoveryType | undefined =>
    handle.kind === 'rebalance'
      ? planned.has(dbid)
        ? 'incremental'
        : undefined
      : planned.get(dbid)?.type;
  const segmentLines = parseSegmentLines(command, section(command, sections, 'progress'), typeOf);
  const phases = scanMessages(
    command,
    section(command, sections, 'messages'),
    plan,
    segmentLines.lastWords,
  );

  const recovered = new Set<number>();
  const failures = new Map<number, SegmentFailure>();
  const skipped: { content: number; reason: string }[] = [];
  for (const phase of phases) {
    skipped.push(...phase.skippedPairs);
    if (phase.exitCode === undefined) continue;
    if (phase.critical) throw phaseFailed(phase, 'gprecoverseg stopped on a critical error');
    for (const [dbid, failure] of phase.failures) failures.set(dbid, failure);
    const listed = phase.failures.size > 0;

    if (handle.kind === 'rebalance') {
      if (phase.rebalanceWarning) throw phaseFailed(phase, phase.rebalanceWarning);
      if (!listed && !phase.succeeded && !phase.nothingToDo)
        throw phaseFailed(
          phase,
          `gprecoverseg -r exited ${phase.exitCode} without saying the rebalance completed`,
        );
      // The segments its nested recovery rebuilt are the ones it printed lines for.
      for (const dbid of segmentLines.named) {
        const segment = planned.get(dbid);
        if (!segment || failures.has(dbid)) continue;
        const skip = skipReason(phase, segment);
        if (skip) failures.set(dbid, { dbid, type: 'incremental', reason: skip, needsFull: false });
        else recovered.add(dbid);
      }
      continue;
    }

    const members = plan.filter((segment) => segment.phase === phase.name);
    if (phase.refused) {
      for (const segment of members)
        failures.set(segment.dbid, {
          dbid: segment.dbid,
          type: segment.type,
          reason: phase.refused,
          needsFull: false,
        });
      continue;
    }
    const unexplained = members.filter(
      (segment) => !phase.failures.has(segment.dbid) && !skipReason(phase, segment),
    );
    // Exit 0 alone never means recovered: gprecoverseg must say so, or list what failed (the
    // segments it does not list then came up), or say it found nothing to do.
    if (unexplained.length > 0 && !phase.succeeded && !listed && !phase.nothingToDo)
      throw phaseFailed(
        phase,
        `gprecoverseg exited ${phase.exitCode} without saying "Segments successfully recovered." or naming a segment`,
      );
    for (const segment of members) {
      if (phase.failures.has(segment.dbid)) continue;
      const skip = skipReason(phase, segment);
      if (skip)
        failures.set(segment.dbid, {
          dbid: segment.dbid,
          type: segment.type,
          reason: skip,
          needsFull: false,
        });
      else if (phase.succeeded || listed) recovered.add(segment.dbid);
      else
        failures.set(segment.dbid, {
          dbid: segment.dbid,
          type: segment.type,
          reason: `gprecoverseg said "${phase.nothingToDo}": dbid ${segment.dbid} was not marked down when it looked, so this run did not recover it`,
          needsFull: false,
        });
    }
  }

  const done = state.kind === 'exited';
  if (done && handle.kind === 'recovery') {
    const unaccounted = plan.filter(
      (segment) => !recovered.has(segment.dbid) && !failures.has(segment.dbid),
    );
    if (unaccounted.length > 0)
      throw new GprecoversegFailed(
        state.code,
        `the run ended without an outcome for dbid ${unaccounted.map((segment) => segment.dbid).join(', ')}`,
      );
  }

  return {
    operationId: handle.operationId,
    kind: handle.kind,
    done,
    progress: segmentLines.progress,
    recovered: [...recovered].sort((a, b) => a - b),
    failures: [...failures.values()].sort((a, b) => a.dbid - b.dbid),
    skipped,
  };
}

export type StartOutcome = { kind: 'started' | 'existing'; pid: number };

/** The answer of a start script: our run was started, was already there, or someone else holds the lock. */
export function parseStartOutput(command: string, output: string): StartOutcome {
  const expected = 'started|existing|locked|stale and a pid';
  const line = singleLine(
    command,
    section(command, splitSections(command, output), 'start'),
    expected,
  );
  const match = /^(started|existing|locked|stale)\|(\d*)(?:\|(\/\S+))?$/.exec(line.text);
  if (!match) throw new MalformedOutput(command, line.number, line.text, `expected ${expected}`);
  const pid = match[2] ? Number(match[2]) : undefined;
  if (match[1] === 'locked') throw new GprecoversegLocked(pid, match[3]);
  if (match[1] === 'stale') throw new StaleGprecoversegLock(pid, match[3]!);
  if (pid === undefined)
    throw new MalformedOutput(command, line.number, line.text, 'no pid for the run');
  return { kind: match[1] as StartOutcome['kind'], pid };
}

/**
 * What `runningGprecoverseg` sends back: nothing, or the lock holder's PID and command line; a
 * `-r` among its flags (`-r`, `-ar`) makes it a rebalance.
 */
export function parseRunningGprecoverseg(
  command: string,
  lines: readonly OutputLine[],
): RunningGprecoverseg | undefined {
  if (lines.length === 0) return undefined;
  const line = singleLine(command, lines, 'pid|command line');
  const match = /^(\d+)\|(.*)$/.exec(line.text);
  if (!match)
    throw new MalformedOutput(command, line.number, line.text, 'expected pid|command line');
  return {
    kind: /\s-[A-Za-z]*r/.test(` ${match[2]}`) ? 'rebalance' : 'recovery',
    pid: Number(match[1]),
  };
}
