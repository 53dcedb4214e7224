import { recoveryTypeSchema, type RecoveryType } from '#domain/events.ts';
import type {
  OperationHandle,
  OperationStatus,
  SegmentFailure,
  SegmentProgress,
} from '#cluster/port.ts';
import {
  GprecoversegFailed,
  GprecoversegFlagConflict,
  GprecoversegLocked,
  HostUnreachable,
  MalformedOutput,
  OperationNotFound,
  RebalanceReplayLagExceeded,
} from './errors.ts';
import { section, splitSections, type OutputLine } from './framing.ts';
import { gpLogMessage } from './gplog.ts';

/** Parses what `pollScript` sends back about a background gprecoverseg run. */

interface PlannedSegment {
  dbid: number;
  content: number;
  type: RecoveryType;
  host: string;
  port: number;
}

type RunState = { kind: 'running' } | { kind: 'exited'; code: number };

const ANSI_ESCAPE = /\x1B\[[0-9;]*[A-Za-z]/g;
const stripAnsi = (text: string): string => text.replace(ANSI_ESCAPE, '');

function parseRunState(
  command: string,
  operationId: string,
  lines: readonly OutputLine[],
): RunState {
  const line = lines[0];
  if (!line || lines.length !== 1)
    throw new MalformedOutput(
      command,
      line?.number ?? 0,
      line?.text ?? '',
      'expected one operation state line',
    );
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
    const match = /^(\d+)\|(\d+)\|([a-z]+)\|([^|]+)\|(\d+)$/.exec(line.text);
    const type = recoveryTypeSchema.safeParse(match?.[3]);
    if (!match || !type.success)
      throw new MalformedOutput(
        command,
        line.number,
        line.text,
        'expected dbid|content|type|host|port',
      );
    return {
      dbid: Number(match[1]),
      content: Number(match[2]),
      type: type.data,
      host: match[4]!,
      port: Number(match[5]),
    };
  });
}

const KB_PROGRESS = /(\d+)\/(\d+) (kB|mB) \((\d+)%\)/;
// rsync --info=progress2 during a differential recovery: bytes so far and percent, no total.
const RSYNC_PROGRESS = /^\s*([\d,]+)\s+(\d+)%/;

function parseProgress(
  command: string,
  lines: readonly OutputLine[],
  typeOf: (dbid: number) => RecoveryType | undefined,
): SegmentProgress[] {
  const progress: SegmentProgress[] = [];
  for (const line of lines) {
    const match = /^\S+ \(dbid (\d+)\): (.*)$/.exec(stripAnsi(line.text).trim());
    if (!match)
      throw new MalformedOutput(command, line.number, line.text, 'expected "host (dbid N): …"');
    const dbid = Number(match[1]);
    const type = typeOf(dbid);
    if (!type) continue;
    const kb = KB_PROGRESS.exec(match[2]!);
    if (kb) {
      const unit = kb[3] === 'mB' ? 1024 : 1;
      progress.push({
        dbid,
        type,
        completedKb: Number(kb[1]) * unit,
        totalKb: Number(kb[2]) * unit,
        percent: Number(kb[4]),
      });
      continue;
    }
    const rsync = RSYNC_PROGRESS.exec(match[2]!);
    if (rsync) {
      const completedKb = Math.floor(Number(rsync[1]!.replaceAll(',', '')) / 1024);
      const percent = Number(rsync[2]);
      progress.push({
        dbid,
        type,
        completedKb,
        totalKb: percent > 0 ? Math.round((completedKb * 100) / percent) : 0,
        percent,
      });
    }
    // Anything else ("pg_rewind: Done!", "skipping pg_rewind …") is narration, not progress.
  }
  return progress;
}

interface Phase {
  name: string;
  exitCode: number | undefined;
  failures: Map<number, SegmentFailure>;
  lastError: string | undefined;
}

const FAILURE_LINE =
  /hostname: (\S+); port: (\d+); logfile: (\S+); recoverytype: (\w+)(?:; error: (.*))?$/;
const START_FAILURE_LINE = /hostname: (\S+); port: (\d+); datadir: (\S+)(?:; error: (.*))?$/;
const SETUP_FAILURE_LINE = /hostname: (\S+); port: (\d+); error: (.*)$/;

interface Scan {
  phases: Phase[];
  unreachableHosts: Set<string>;
  skipped: { content: number; reason: string }[];
}

function scanMessages(
  command: string,
  lines: readonly OutputLine[],
  plan: readonly PlannedSegment[],
): Scan {
  const phases: Phase[] = [];
  const newPhase = (name: string): Phase => {
    const phase: Phase = {
      name,
      exitCode: undefined,
      failures: new Map(),
      lastError: undefined,
    };
    phases.push(phase);
    return phase;
  };
  const unreachableHosts = new Set<string>();
  const skipped: { content: number; reason: string }[] = [];
  let phase: Phase | undefined;
  const dbidAt = (host: string, port: number) =>
    plan.find((segment) => segment.host === host && segment.port === port)?.dbid;

  for (const line of lines) {
    const marker = /^@@recoverseg:phase (\w+)@@$/.exec(line.text);
    if (marker) {
      phase = newPhase(marker[1]!);
      continue;
    }
    const exit = /^@@recoverseg:phase-exit (\w+) (\d+)@@$/.exec(line.text);
    if (exit) {
      if (!phase || phase.name !== exit[1])
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
    const { level, message } = gpLogMessage(line.text);

    // Argument refusals, e.g. "Only one of -p, -r and --differential may be specified",
    // "-F option is not supported with -r option", optparse's "no such option: --replay-lag".
    const flag =
      /(Only one of [^']* may be specified|\S+ option is not supported with \S+ option|no such option: \S+|Invalid [^']* provided[^']*)/.exec(
        message,
      );
    if (flag) throw new GprecoversegFlagConflict(flag[1]!);

    if (/gprecoverseg\.lock|gprecoverseg is already running|another instance/i.test(message)) {
      const pid = /pid[ :=]+(\d+)/i.exec(message);
      throw new GprecoversegLocked(pid ? Number(pid[1]) : undefined);
    }

    const lag = /(\d+) bytes of wal is still to be replayed on mirror with dbid (\d+)/.exec(
      message,
    );
    if (lag) throw new RebalanceReplayLagExceeded(Number(lag[2]), Number(lag[1]));

    const cannot = /The following recovery target hosts are unreachable: (.*)$/.exec(message);
    if (cannot)
      throw new HostUnreachable(
        [...cannot[1]!.matchAll(/[A-Za-z0-9._-]+/g)].map((m) => m[0]),
        'gprecoverseg cannot reach the recovery target hosts; bring them up or choose other hosts',
      );
    const endpoint =
      /The recovery (source|target) segment (\S+) \(content (\d+)\) is unreachable/.exec(message);
    if (endpoint)
      throw new HostUnreachable(
        [endpoint[2]!],
        `the recovery ${endpoint[1]} of content ${endpoint[3]} cannot be reached over ssh`,
      );

    const host = /Host (\S+) is unreachable/.exec(message);
    if (host) unreachableHosts.add(host[1]!);

    const failure = FAILURE_LINE.exec(message);
    if (failure) {
      const type = recoveryTypeSchema.safeParse(failure[4]);
      // The progress file name carries the dbid; older releases' lines may not, so fall back to where it was rebuilt.
      const fromLogfile = /dbid(\d+)\.out$/.exec(failure[3]!)?.[1];
      const dbid = fromLogfile ? Number(fromLogfile) : dbidAt(failure[1]!, Number(failure[2]));
      if (!type.success || dbid === undefined)
        throw new MalformedOutput(
          command,
          line.number,
          line.text,
          'segment failure names no planned segment',
        );
      const reason =
        failure[5] && failure[5] !== 'None'
          ? failure[5]
          : `${type.data} recovery failed; see ${failure[3]}`;
      phase.failures.set(dbid, { dbid, type: type.data, reason, needsFull: type.data !== 'full' });
      continue;
    }
    const started = START_FAILURE_LINE.exec(message);
    const setup = started ? undefined : SETUP_FAILURE_LINE.exec(message);
    const other = started ?? setup;
    if (other) {
      const dbid = dbidAt(other[1]!, Number(other[2]));
      const planned = plan.find((segment) => segment.dbid === dbid);
      if (!planned)
        throw new MalformedOutput(
          command,
          line.number,
          line.text,
          'segment failure names no planned segment',
        );
      const detail = started ? started[4] : setup![3];
      const reason = started
        ? `segment failed to start after recovery${detail && detail !== 'None' ? `: ${detail}` : `; see the log in ${started[3]}`}`
        : `recovery setup failed: ${detail}`;
      phase.failures.set(planned.dbid, {
        dbid: planned.dbid,
        type: planned.type,
        reason,
        needsFull: false,
      });
      continue;
    }

    const notRebalanced =
      /Not rebalancing primary segment dbid (\d+) with its mirror dbid \d+ because (.*)$/.exec(
        message,
      );
    if (notRebalanced) {
      const primary = plan.find((segment) => segment.dbid === Number(notRebalanced[1]));
      if (!primary)
        throw new MalformedOutput(
          command,
          line.number,
          line.text,
          'skipped pair names an unknown dbid',
        );
      skipped.push({ content: primary.content, reason: notRebalanced[2]! });
      continue;
    }
    if (
      level === 'ERROR' ||
      level === 'CRITICAL' ||
      level === 'FATAL' ||
      /pg_rewind: (fatal|error)/.test(message)
    )
      phase.lastError = message.trim();
  }
  return { phases, unreachableHosts, skipped };
}

export function parseOperationOutput(handle: OperationHandle, output: string): OperationStatus {
  const command = `poll ${handle.operationId}`;
  const sections = splitSections(command, output);
  const state = parseRunState(command, handle.operationId, section(command, sections, 'operation'));
  const plan = parsePlan(command, section(command, sections, 'plan'));
  const planned = new Map(plan.map((segment) => [segment.dbid, segment]));
  const typeOf = (dbid: number): RecoveryType | undefined =>
    handle.kind === 'rebalance'
      ? planned.has(dbid)
        ? 'incremental'
        : undefined
      : planned.get(dbid)?.type;
  const progress = parseProgress(command, section(command, sections, 'progress'), typeOf);
  const scan = scanMessages(command, section(command, sections, 'messages'), plan);

  const recovered = new Set<number>();
  const failures = new Map<number, SegmentFailure>();
  for (const phase of scan.phases) {
    if (phase.exitCode === undefined) continue;
    // A rebalance recovers whichever segments it stopped: those it showed progress for.
    const members =
      handle.kind === 'rebalance'
        ? progress.map((entry) => entry.dbid)
        : plan.filter((segment) => segment.type === phase.name).map((segment) => segment.dbid);
    for (const [dbid, failure] of phase.failures) failures.set(dbid, failure);
    for (const dbid of members) {
      const segment = planned.get(dbid);
      if (failures.has(dbid) || !segment) continue;
      if (scan.unreachableHosts.has(segment.host)) {
        failures.set(dbid, {
          dbid,
          type: segment.type,
          reason: `host ${segment.host} is unreachable; gprecoverseg skipped dbid ${dbid}`,
          needsFull: false,
        });
        continue;
      }
      if (phase.exitCode === 0 || phase.failures.size > 0) {
        recovered.add(dbid);
        continue;
      }
      if (handle.kind === 'rebalance') continue;
      failures.set(dbid, {
        dbid,
        type: segment.type,
        reason: phase.lastError ?? `gprecoverseg exited ${phase.exitCode} without naming a segment`,
        needsFull: false,
      });
    }
    if (handle.kind === 'rebalance' && phase.exitCode !== 0 && phase.failures.size === 0)
      throw new GprecoversegFailed(
        phase.exitCode,
        phase.lastError ?? 'gprecoverseg -r failed without naming a segment',
      );
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
    progress,
    recovered: [...recovered].sort((a, b) => a - b),
    failures: [...failures.values()].sort((a, b) => a.dbid - b.dbid),
    skipped: scan.skipped,
  };
}

export type StartOutcome = { kind: 'started' | 'existing'; pid: number };

/** The answer of a start script: our run was started, was already there, or someone else holds the lock. */
export function parseStartOutput(command: string, output: string): StartOutcome {
  const lines = section(command, splitSections(command, output), 'start');
  const line = lines[0];
  const match =
    line && lines.length === 1 ? /^(started|existing|locked)\|(\d*)$/.exec(line.text) : null;
  if (!match)
    throw new MalformedOutput(
      command,
      line?.number ?? 0,
      line?.text ?? '',
      'expected started|existing|locked and a pid',
    );
  const pid = match[2] ? Number(match[2]) : undefined;
  if (match[1] === 'locked') throw new GprecoversegLocked(pid);
  if (pid === undefined)
    throw new MalformedOutput(command, line!.number, line!.text, 'no pid for the run');
  return { kind: match[1] as StartOutcome['kind'], pid };
}
