import { describe, expect, it } from 'vitest';
import { configurationOf, fold, type ClusterState } from '#domain/evolve.ts';
import type { NewEvent, RecoveryOptions } from '#domain/events.ts';
import {
  RecoveryNotPossible,
  decideAfterSyncCheck,
  decidePromotion,
  doubleFaultMessage,
  planRecovery,
  promotionContext,
} from '#domain/decisions.ts';
import { observedDoubleFaults } from '#domain/observation.ts';
import { reconcile } from '#domain/reconcile.ts';
import { registrationEvents } from '#domain/registration.ts';
import { renderGpstateErrors } from '#domain/render.ts';
import { pairsOf, type SegmentRow } from '#domain/segment.ts';
import { gpLogMessage } from '#cluster/greenplum/gplog.ts';
import { parseSegmentRows } from '#cluster/greenplum/psql.ts';
import {
  adapterRun,
  catalogCapture,
  outputLines,
  readCapture,
  sectionText,
} from '#test/unit/cluster/greenplum/captures.ts';

/*
 * Real Greenplum 6.24.3 incidents (test/fixtures/greenplum-6.24.3) replayed through the fold,
 * reconcile and the decision tables: what recoverseg would decide at each real look.
 */

/** The segments an adapter run of the old read-configuration script saw (jsonl entry id). */
async function adapterCatalog(id: string): Promise<SegmentRow[]> {
  const run = await adapterRun(id);
  return parseSegmentRows(run.what, outputLines(sectionText(run.decoded, 'segments')));
}

/** The contents whose walsender streamed in an adapter read of gp_stat_replication. */
async function adapterStreaming(id: string): Promise<number[]> {
  const run = await adapterRun(id);
  return sectionText(run.decoded, 'replication')
    .split('\n')
    .filter((line) => line.split('|')[2] === 'streaming')
    .map((line) => Number(line.split('|')[0]));
}

const registered = (rows: readonly SegmentRow[]): ClusterState => fold(registrationEvents(rows));

/** The log's state after reconciling it with one look at the cluster. */
function look(state: ClusterState, segments: SegmentRow[], unresponsive: number[] = []) {
  const events = reconcile(state, {
    segments,
    doubleFaults: observedDoubleFaults(segments, unresponsive),
  });
  return { events, state: fold(events, state) };
}

const AUTO: RecoveryOptions = {
  type: 'auto',
  targetHosts: {},
  rebalance: true,
  replayLagGb: 10,
  dryRun: false,
};

describe('a mirror killed alone (jsonl 13:53, captures 51*): never "nothing to do" while it is dead', () => {
  it('waits while the pair shows in sync without a walsender, then plans that mirror alone', async () => {
    const healthy = registered(await adapterCatalog('d7aba55e-54fd-4915-bd92-f2047b4bdf1f'));
    // 13:53:52: dbid 6 was killed 28 s before; the catalog still says u/s everywhere.
    const inGrace = look(healthy, await adapterCatalog('53e130e3-5bbc-4d4d-9e66-f1db99dc915d'));
    expect(inGrace.events).toEqual([]);
    const streaming = await adapterStreaming('33b200dd-3d2a-486b-a932-38309f6fa43c');
    expect(streaming).toEqual([1, 2, 3]);
    const context = promotionContext(inGrace.state, {
      failedHosts: [],
      unresponsive: [],
      notReady: [],
      streaming: streaming,
    });
    expect(context.awaitingMarkDown.map((p) => p.content)).toEqual([0]);
    expect(decidePromotion(context).then).toBe('pending');
    // The old sync check would have called this pair synchronized and finished.
    expect(
      decideAfterSyncCheck({
        pairs: pairsOf(configurationOf(inGrace.state)),
        streaming,
        notReady: [],
        doubleFaulted: [],
        rebalanceRequested: true,
        rebalanceDone: false,
        maxReplayLagBytes: 0,
        replayLagLimitBytes: 10 * 1024 ** 3,
        plans: 0,
        rebalance: {
          policy: 'immediate',
          approved: false,
          windowOpen: false,
          waitedTooLong: false,
        },
        outOfTime: false,
      }).then,
    ).toBe('wait');

    // 13:54:21: FTS marked it down after the grace period.
    const marked = look(
      inGrace.state,
      await adapterCatalog('7bee6171-1f94-45a9-87d2-1a66fa6d609d'),
    );
    expect(marked.events).toEqual([{ type: 'SegmentMarkedDown', data: { dbid: 6 } }]);
    expect(
      decidePromotion(
        promotionContext(marked.state, {
          failedHosts: [],
          unresponsive: [],
          notReady: [],
          streaming: [1, 2, 3],
        }),
      ).then,
    ).toBe('promoted');
    expect(planRecovery(marked.state, AUTO)).toEqual([
      { dbid: 6, content: 0, sourceDbid: 2, type: 'incremental' },
    ]);
  });
});

describe('host sdw2 fails (captures 20-30f): one recovery round, after the grace period', () => {
  it('waits while the mirrors on the dead host still show up, then plans all four segments at once', async () => {
    const healthy = registered(await catalogCapture('10_healthy_gp_segment_configuration.txt'));
    // 21: right after the kill, before FTS probed: the catalog still shows every pair in sync;
    // the acting primaries on sdw2 (dbid 4, 5) do not answer, and nothing streams.
    const beforeProbe = look(
      healthy,
      await catalogCapture('21_after_kill_before_probe_gp_segment_configuration.txt'),
      [4, 5],
    );
    expect(beforeProbe.events).toEqual([]);
    const waiting = promotionContext(beforeProbe.state, {
      failedHosts: [],
      unresponsive: [4, 5],
      notReady: [],
      streaming: [],
    });
    expect(waiting.awaitingFailover.map((r) => r.dbid)).toEqual([4, 5]);
    expect(waiting.awaitingMarkDown.map((p) => p.content)).toEqual([0, 1]);
    expect(decidePromotion(waiting).rule).toMatch(/does not answer, still acts as primary/);
    // 23 + 26: primaries 2, 3 failed over; the mirrors on sdw2 still `u`, no walsender anywhere.
    const inGrace = look(
      healthy,
      await catalogCapture('23_after_kill_gp_segment_configuration.txt'),
    );
    expect(inGrace.events.map((e) => e.type)).toEqual(['MirrorPromoted', 'MirrorPromoted']);
    const replication = await readCapture('26_after_kill_gp_stat_replication.txt');
    expect(replication.body).not.toContain('streaming');
    const context = promotionContext(inGrace.state, {
      failedHosts: ['sdw2'],
      unresponsive: [],
      notReady: [],
      streaming: [],
    });
    expect(context.awaitingMarkDown.map((p) => p.content)).toEqual([0, 1]);
    expect(decidePromotion(context)).toMatchObject({ then: 'pending' });

    const afterGrace = look(
      inGrace.state,
      await catalogCapture('30b_after_grace_gp_segment_configuration.txt'),
    );
    expect(afterGrace.events).toEqual([
      { type: 'SegmentMarkedDown', data: { dbid: 6 } },
      { type: 'SegmentMarkedDown', data: { dbid: 7 } },
    ]);
    expect(
      decidePromotion(
        promotionContext(afterGrace.state, {
          failedHosts: ['sdw2'],
          unresponsive: [],
          notReady: [],
          streaming: [],
        }),
      ).then,
    ).toBe('promoted');
    expect(planRecovery(afterGrace.state, AUTO).map((i) => i.dbid)).toEqual([6, 7, 4, 5]);
  });
});

describe('double fault on content 3 (captures 80-88): found by observation, never recovered from', () => {
  it('records the role swap FTS made and the double fault, refuses to plan, and says the way out', async () => {
    const healthy = registered(await catalogCapture('10_healthy_gp_segment_configuration.txt'));
    const seen = await catalogCapture('80c_double_fault_config.txt');
    // Without the observation that dbid 9 does not answer, the catalog looks like a failover.
    expect(observedDoubleFaults(seen, [])).toEqual([]);
    const faulted = look(healthy, seen, [9]);
    const expected: NewEvent[] = [
      { type: 'MirrorPromoted', data: { content: 3, promotedDbid: 9, demotedDbid: 5 } },
      { type: 'DoubleFaultDetected', data: { content: 3, primaryDbid: 9, mirrorDbid: 5 } },
    ];
    expect(faulted.events).toEqual(expected);
    expect(faulted.state.doubleFaults).toEqual([3]);
    const verdict = decidePromotion(
      promotionContext(faulted.state, {
        failedHosts: [],
        unresponsive: [],
        notReady: [],
        streaming: [0, 1, 2],
      }),
    );
    expect(verdict.then).toBe('double-fault');
    expect(() => planRecovery(faulted.state, AUTO)).toThrow(RecoveryNotPossible);
    const pair = pairsOf(configurationOf(faulted.state)).find((p) => p.content === 3)!;
    expect(doubleFaultMessage(pair)).toBe(
      'content 3: double fault (acting primary dbid 9 on sdw1:7003 does not answer, mirror dbid 5 down); ' +
        'run gpstop -a -M fast, then gpstart -a, then start a recovery again (gprecoverseg -a, then gprecoverseg -ar); ' +
        'recoverseg never recovers from a dead or stale copy',
    );
    // The same look a second time writes nothing new.
    expect(look(faulted.state, seen, [9]).events).toEqual([]);
  });

  it('renders gpstate -e as Greenplum did during the double fault (80d)', async () => {
    const healthy = registered(await catalogCapture('10_healthy_gp_segment_configuration.txt'));
    const faulted = look(healthy, await catalogCapture('80c_double_fault_config.txt'), [9]);
    const real = (await readCapture('80d_double_fault_gpstate_e.txt')).body
      .split('\n')
      .map((line) => gpLogMessage(line))
      .filter((m) => m.level && !m.message.startsWith('could not query segment'))
      .map((m) => m.message.replace(/\s+$/, ''));
    const report = real.slice(real.indexOf('Segment Mirroring Status Report') - 1);
    expect(renderGpstateErrors(faulted.state).map((line) => line.replace(/\s+$/, ''))).toEqual(
      report,
    );
  });

  it('clears once the restart brought the acting primary back (85), then recovers dbid 5 from dbid 9 (86)', async () => {
    const healthy = registered(await catalogCapture('10_healthy_gp_segment_configuration.txt'));
    const faulted = look(healthy, await catalogCapture('80c_double_fault_config.txt'), [9]);
    const restarted = look(
      faulted.state,
      await catalogCapture('85_double_fault_after_restart_config.txt'),
    );
    expect(restarted.events).toEqual([
      { type: 'DoubleFaultCleared', data: { content: 3, primaryDbid: 9 } },
    ]);
    expect(planRecovery(restarted.state, AUTO)).toEqual([
      { dbid: 5, content: 3, sourceDbid: 9, type: 'incremental' },
    ]);
    const recovery = await readCapture('86_double_fault_gprecoverseg_a_after_restart.txt');
    expect(recovery.exitStatus).toBe(0);
  });
});
