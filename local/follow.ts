import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from '#local/api-client.ts';
import { printTable, type Out } from '#local/output.ts';
import { progressObserver } from '#local/progress.ts';
import { coordinatorInWords, type CoordinatorStatus } from '#local/coordinator-words.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';

/**
 * How `recoverseg recover` ends, as its exit code says it: 0 the run ended and the cluster is
 * redundant (recovered, nothing to do, planned, or unbalanced because no approval or window came
 * in time), 1 it failed or was cancelled, 3 it waits for an operator to approve the rebalance.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, awaitingApproval: 3, busy: 4 } as const;

export interface FollowResult {
  clusterId: string;
  incidentId: string;
  /** recovered | nothing-to-do | planned | unbalanced | failed | cancelled | awaiting-rebalance */
  result: string;
  exitCode: number;
  /** The event that ended the follow (RecoveryCompleted/Failed/Cancelled, RebalanceAwaitingApproval). */
  event: { seq: number; type: string; at: string | undefined; data: unknown } | null;
  /** The command that lets the run rebalance, when it waits for one. */
  approveCommand?: string;
}

interface FollowOptions {
  /** The log seq from which the run's RecoveryRequested is looked for. */
  afterSeq: number;
  /** Between two polls of the event log, in ms. */
  pollMs: number;
  /**
   * How long to wait for the run's RecoveryRequested before saying it never started (a run
   * that died before writing anything leaves nothing in the log to follow). Default 5 min.
   */
  startLimitMs?: number;
}

type Event = RecordedEvent & { at?: string };

const ofIncident = (e: Event, incidentId: string): boolean =>
  (e.data as { incidentId?: string }).incidentId === incidentId;

export const approveCommand = (clusterId: string): string =>
  `recoverseg approve --cluster ${clusterId}`;

/** Seconds between two ISO times, as a person reads them. */
export function duration(from: string | undefined, to: string | undefined): string | undefined {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms)) return undefined;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min ${seconds} s`;
}

/**
 * Follows one recovery through the API alone (serve or API Gateway): polls the event log from
 * `afterSeq`, prints each phase as the demo does (the configuration at promoted, redundant
 * again and rebalanced; progress bars for gprecoverseg, the WAL catch-up and gprecoverseg -r),
 * and returns when the run ends or waits for an approval. The bars count segments and pairs
 * from the log: the API does not expose gprecoverseg's kB or gp_stat_replication's bytes.
 */
export async function followRecovery(
  client: ApiClient,
  clusterId: string,
  incidentId: string,
  out: Out,
  options: FollowOptions,
): Promise<FollowResult> {
  const base = `/clusters/${encodeURIComponent(clusterId)}`;
  // The demo's bars.
  const bars = progressObserver(out);
  /** The demo's gprecoverseg bar, fed with segments done of those the operation covers. */
  const bar = (kind: 'recovery' | 'rebalance', done: number, of: number) =>
    bars.onTaskSucceeded?.(
      'CheckRecovery',
      {},
      {
        kind,
        percent: of ? Math.floor((done / of) * 100) : 100,
        next: done >= of ? 'done' : 'wait',
      },
    );
  const table = async (title: string, seq: number) => {
    const config = (await client.request('GET', `${base}/configuration`, undefined, {
      seq: String(seq),
    })) as { seq: number; rows: SegmentRow[] };
    out.done();
    printTable(out, `${title} (seq ${config.seq})`, config.rows);
  };
  const events: Event[] = [];
  let started = false;
  let planned: { dbid: number; content: number; type: string }[] = [];
  const up = new Set<number>();
  const synced = new Set<number>();
  let redundant = false;
  let copying = false;
  let awaiting: { event: Event; result: FollowResult } | undefined;
  let rebalancing = false;
  let switched = new Set<number>();
  const rebalanced = new Set<number>();
  let after = options.afterSeq;
  const waitingSince = Date.now();
  for (;;) {
    const page = (await client.request('GET', `${base}/events`, undefined, {
      after: String(after),
      limit: '1000',
    })) as { events: Event[]; next: number | null };
    for (const e of page.events) {
      after = e.seq;
      if (!started) {
        if (e.type !== 'RecoveryRequested' || !ofIncident(e, incidentId)) continue;
        started = true;
        const d = e.data as { trigger: { source: string }; rebalance?: { policy: string } };
        out.line(
          `-- incident ${incidentId} requested by ${d.trigger.source} (seq ${e.seq}${d.rebalance ? `, rebalance policy ${d.rebalance.policy}` : ''}): detecting`,
        );
      }
      events.push(e);
      const end = (result: string, exitCode: number): FollowResult => ({
        clusterId,
        incidentId,
        result,
        exitCode,
        event: { seq: e.seq, type: e.type, at: e.at, data: e.data },
      });
      switch (e.type) {
        case 'RecoveryPlanned': {
          // A plan of more than one part is printed once, whole, at its last part.
          const d = e.data as { items: typeof planned; part?: number; parts?: number };
          planned = (d.part ?? 1) === 1 ? d.items : [...planned, ...d.items];
          if ((d.part ?? 1) < (d.parts ?? 1)) break;
          await table('promoted: FTS failed over what it could', e.seq - (d.parts ?? 1));
          out.line(
            planned.length === 0
              ? `-- planned (seq ${e.seq}): nothing to recover`
              : `-- planned (seq ${e.seq}): ${planned.map((i) => `dbid ${i.dbid} (content ${i.content}) ${i.type}`).join(', ')}`,
          );
          break;
        }
        case 'SegmentRecoveryStarted':
          if (!copying && planned.length > 0) {
            copying = true;
            await bar('recovery', 0, 1);
          }
          break;
        case 'SegmentRecovered': {
          const dbid = (e.data as { dbid: number }).dbid;
          if (rebalancing) break;
          up.add(dbid);
          await bar('recovery', planned.filter((i) => up.has(i.dbid)).length, planned.length);
          break;
        }
        case 'PairSynchronized': {
          const content = (e.data as { content: number }).content;
          if (rebalancing) {
            rebalanced.add(content);
            await bar(
              'rebalance',
              [...switched].filter((c) => rebalanced.has(c)).length,
              switched.size,
            );
            break;
          }
          synced.add(content);
          const contents = [...new Set(planned.map((i) => i.content))];
          const waiting = contents.filter((c) => !synced.has(c));
          out.progress(
            'wait for sync  ',
            contents.length ? (contents.length - waiting.length) / contents.length : 1,
            waiting.length === 0
              ? 'all pairs synchronized'
              : `contents ${waiting.join(', ')} catching up`,
          );
          break;
        }
        // The run saw every pair up, in sync and streaming: the catalog alone is not enough.
        case 'ClusterRedundant': {
          if (!ofIncident(e, incidentId) || redundant) break;
          redundant = true;
          const config = (await client.request('GET', `${base}/configuration`, undefined, {
            seq: String(e.seq),
          })) as { seq: number; rows: SegmentRow[] };
          switched = new Set(
            config.rows
              .filter((r) => r.content >= 0 && r.role === 'p' && r.preferred_role !== 'p')
              .map((r) => r.content),
          );
          out.done();
          printTable(out, 'redundant again: every pair synchronized', config.rows);
          break;
        }
        case 'ClusterAnswerUnreadable': {
          if (!ofIncident(e, incidentId)) break;
          const d = e.data as { what: string; problem: string };
          out.done();
          out.line(`-- unreadable, retrying (seq ${e.seq}): ${d.what}: ${d.problem}`);
          break;
        }
        case 'MirrorPromoted':
          awaiting = undefined;
          if (redundant && !rebalancing) {
            rebalancing = true;
            out.line(`-- rebalancing (seq ${e.seq}): gprecoverseg -r, roles back to preferred`);
          }
          break;
        case 'RebalanceAwaitingApproval': {
          // Ends the follow only once the log has nothing after it (a replayed run may go on).
          if (ofIncident(e, incidentId))
            awaiting = { event: e, result: end('awaiting-rebalance', EXIT.awaitingApproval) };
          break;
        }
        case 'RebalanceApproved':
          awaiting = undefined;
          break;
        case 'RecoveryCompleted': {
          if (!ofIncident(e, incidentId)) break;
          const d = e.data as {
            outcome: string;
            note?: string;
            timings: Record<string, string | undefined>;
          };
          out.done();
          if (rebalancing) await table('rebalanced: roles back to preferred', e.seq);
          const t = d.timings;
          const times = [
            ['promoted', t.promotedAt],
            ['redundant again', t.synchronizedAt],
            ['rebalanced', t.rebalancedAt],
          ]
            .map(([what, at]) => [what, duration(t.requestedAt, at)])
            .filter(([, took]) => took)
            .map(([what, took]) => `${what} after ${took}`);
          out.line(
            `${d.outcome} (seq ${e.seq}) in ${duration(t.requestedAt, t.completedAt) ?? '?'}${times.length ? `: ${times.join(', ')}` : ''}${d.note ? `; ${d.note}` : ''}`,
          );
          return end(d.outcome, EXIT.ok);
        }
        case 'RecoveryFailed': {
          if (!ofIncident(e, incidentId)) break;
          const d = e.data as { phase: string; reason: string };
          out.done();
          out.line(`recovery FAILED in ${d.phase} (seq ${e.seq}): ${d.reason}`);
          return end('failed', EXIT.failed);
        }
        case 'RecoveryCancelled': {
          if (!ofIncident(e, incidentId)) break;
          const d = e.data as { by: string; reason: string; gprecoverseg?: string };
          out.done();
          out.line(
            `recovery CANCELLED by ${d.by} (seq ${e.seq}): ${d.reason}${d.gprecoverseg ? `; ${d.gprecoverseg}` : ''}`,
          );
          return end('cancelled', EXIT.failed);
        }
      }
    }
    if (page.next !== null) continue;
    if (!started && Date.now() - waitingSince > (options.startLimitMs ?? 300_000)) {
      out.line(
        `incident ${incidentId} has no RecoveryRequested in the log after ${Math.round((Date.now() - waitingSince) / 1000)} s: the run did not start (see recoverseg status --cluster ${clusterId})`,
      );
      return { clusterId, incidentId, result: 'not-started', exitCode: EXIT.failed, event: null };
    }
    if (awaiting) {
      const d = awaiting.event.data as {
        setting: { policy: string; window?: string };
        until: string;
      };
      out.done();
      out.line(
        `-- redundant again (seq ${awaiting.event.seq}), waiting to rebalance (policy ${d.setting.policy}${d.setting.window ? `, window ${d.setting.window}` : ''}) until ${d.until}; then it ends unbalanced`,
      );
      out.line('gprecoverseg -r cancels the queries in flight; to rebalance now, run:');
      out.line(`  ${approveCommand(clusterId)}`);
      return { ...awaiting.result, approveCommand: approveCommand(clusterId) };
    }
    await sleep(options.pollMs);
  }
}

interface StatusBody {
  clusterId: string;
  seq: number;
  phase: string | null;
  recovery: {
    incidentId: string;
    requestedAt?: string;
    trigger: { source: string; detail?: string };
    plan?: { dbid: number; content: number; type: string }[];
    started: number[];
    recovered: number[];
    failures: { dbid: number; type: string; reason: string }[];
    rebalance?: { policy: string; window?: string };
    awaitingRebalance?: { since?: string; until: string };
    approved?: { by: string; at?: string };
    unreadable?: { what: string; problem: string; at?: string; seq: number };
  } | null;
  lastIncident: {
    incidentId: string;
    status: string;
    at?: string;
    outcome?: string;
    note?: string;
    by?: string;
    phase?: string;
    reason?: string;
    timings?: Record<string, string | undefined>;
  } | null;
  rebalancePolicy: { policy: string; window?: string } | null;
  /** Absent from an API older than the watcher. */
  recoveryPolicy?: string;
  watch?: {
    wholeOnRecord: boolean;
    seenWholeAt: string | null;
    wholeUntil: string | null;
    lastLook: {
      at: string;
      whole: boolean;
      action: string;
      started?: string;
      error?: string;
    } | null;
  };
  /** Absent from an API older than the coordinator failover. */
  coordinator?: CoordinatorStatus;
  doubleFaults: number[];
  gpstateMirrors: string[];
  gpstateErrors: string[];
}

/** The watcher's line of `status`: when it last looked and when the cluster was last whole. */
function watchInWords(watch: NonNullable<StatusBody['watch']>, now: Date): string {
  const look = watch.lastLook;
  const looked = !look
    ? 'no look by this API (serve --watch-seconds 0, or behind API Gateway: see the CloudWatch dashboard)'
    : `last look ${duration(look.at, now.toISOString())} ago: ${look.error ? `failed (${look.error})` : look.whole ? 'whole' : look.started ? `not whole, started incident ${look.started}` : 'not whole'}`;
  const whole =
    look?.whole || watch.wholeOnRecord
      ? 'whole now'
      : watch.wholeUntil
        ? `last whole at ${watch.wholeUntil} (${duration(watch.wholeUntil, now.toISOString())} ago)`
        : 'never seen whole yet';
  return `watcher: ${looked}; ${whole}`;
}

/** `recoverseg status` in words: the recovery in progress and the last incident. */
export function statusInWords(status: StatusBody, now: Date = new Date()): string[] {
  const lines: string[] = [];
  const r = status.recovery;
  const policy = status.rebalancePolicy
    ? `${status.rebalancePolicy.policy}${status.rebalancePolicy.window ? ` (${status.rebalancePolicy.window})` : ''}`
    : 'the default of the trigger';
  lines.push(
    `cluster ${status.clusterId} at seq ${status.seq}; ${status.recoveryPolicy ? `recovery policy ${status.recoveryPolicy}, ` : ''}rebalance policy ${policy}`,
  );
  if (status.watch) lines.push(watchInWords(status.watch, now));
  if (status.coordinator) lines.push(...coordinatorInWords(status.clusterId, status.coordinator));
  if (status.doubleFaults.length)
    lines.push(`DOUBLE FAULT on contents ${status.doubleFaults.join(', ')}`);
  if (!r) lines.push('recovery in progress: none');
  else {
    lines.push(
      `recovery in progress: incident ${r.incidentId}, phase ${status.phase ?? 'unknown'}, requested by ${r.trigger.source}${r.requestedAt ? ` at ${r.requestedAt} (${duration(r.requestedAt, now.toISOString())} ago)` : ''}${r.rebalance ? `, rebalance policy ${r.rebalance.policy}` : ''}`,
    );
    if (!r.plan) lines.push('  not planned yet (detecting failures, waiting for FTS to promote)');
    for (const item of r.plan ?? []) {
      const failure = r.failures.find((f) => f.dbid === item.dbid);
      const state = r.recovered.includes(item.dbid)
        ? 'up'
        : failure
          ? `failed: ${failure.reason}`
          : r.started.includes(item.dbid)
            ? 'gprecoverseg running'
            : 'planned';
      lines.push(`  dbid ${item.dbid} (content ${item.content}) ${item.type}: ${state}`);
    }
    if (r.plan) lines.push(`  ${r.recovered.length} of ${r.plan.length} segments up`);
    if (r.awaitingRebalance)
      lines.push(
        `  redundant again, waiting to rebalance until ${r.awaitingRebalance.until}; approve with: ${approveCommand(status.clusterId)}`,
      );
    if (r.approved) lines.push(`  rebalance approved by ${r.approved.by}`);
    // Only while it is the log's last word: anything after it means a later read went through.
    if (r.unreadable && r.unreadable.seq === status.seq)
      lines.push(
        `  unreadable, retrying: ${r.unreadable.what}: ${r.unreadable.problem} (the answer is on record at seq ${r.unreadable.seq}; it says nothing about the cluster's health)`,
      );
  }
  const last = status.lastIncident;
  if (!last) lines.push('last incident: none');
  else {
    const t = last.timings;
    const what =
      last.status === 'succeeded'
        ? `ended ${last.outcome ?? 'recovered'}`
        : last.status === 'failed'
          ? `FAILED${last.phase ? ` in ${last.phase}` : ''}: ${last.reason}`
          : `CANCELLED${last.by ? ` by ${last.by}` : ''}: ${last.reason}`;
    lines.push(`last incident: ${last.incidentId} ${what}${last.at ? ` at ${last.at}` : ''}`);
    if (last.note) lines.push(`  ${last.note}`);
    if (t) {
      const since = t.requestedAt;
      lines.push(
        `  time to promoted ${duration(since, t.promotedAt) ?? '—'}, to redundant again ${duration(since, t.synchronizedAt) ?? '—'}, to rebalanced ${duration(since, t.rebalancedAt) ?? '—'}, in all ${duration(since, t.completedAt) ?? '—'}`,
      );
    }
  }
  return lines;
}
export type { StatusBody };
