import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime.ts';
import {
  type PhaseRecorder,
  parseScenario,
  runScenario,
  type ScenarioReport,
} from '#local/scenario.ts';
import { configurationProblems } from '#domain/invariants.ts';
import { pairsOf, isInPreferredRoles, isSynchronized, type SegmentRow } from '#domain/segment.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { localWorkflowRuntime } from '#test/support.ts';

let runtime: LocalRuntime;
let recorder: PhaseRecorder;
let n = 0;

beforeAll(async () => {
  ({ runtime, recorder } = await localWorkflowRuntime('scenarios'));
});
afterAll(async () => runtime.stop());

async function run(
  steps: unknown[],
  simulation: Record<string, unknown> = {},
): Promise<ScenarioReport> {
  const scenario = parseScenario({
    cluster: `scn-${++n}`,
    segments: seedScenario.segments,
    simulation: { timeScale: 0, ...simulation },
    steps,
  });
  return runScenario(runtime, recorder, scenario, { pollSeconds: 0 });
}

const finalRows = async (report: ScenarioReport): Promise<SegmentRow[]> => [
  ...(await runtime.stores.events.loadState(report.cluster)).segments.values(),
];

function expectHealthy(rows: SegmentRow[]) {
  expect(configurationProblems(rows)).toEqual([]);
  for (const pair of pairsOf(rows)) {
    expect(isSynchronized(pair), `content ${pair.content} synchronized`).toBe(true);
    expect(isInPreferredRoles(pair), `content ${pair.content} in preferred roles`).toBe(true);
  }
}

const types = (report: ScenarioReport) => report.events.map((e) => e.type);

describe('recovery scenarios on the local workflow', () => {
  it('stops on a double fault when primary and mirror die together, recovers nothing, and says which content and the way out', async () => {
    const report = await run([
      { fail: { dbid: 7, kind: 'crash' } },
      { fail: { dbid: 3, kind: 'crash' } },
      { recover: {} },
    ]);
    expect(report.outcome.status).toBe('failed');
    // Capture 80c: FTS took the catalog's word and swapped the roles, so the dead mirror dbid 7
    // is the acting primary that does not answer.
    expect(report.outcome.error).toMatch(
      /DoubleFault: content 1: double fault \(acting primary dbid 7 on segment-2:10501 does not answer, mirror dbid 3 down\)/,
    );
    expect(report.outcome.error).toContain('gpstop -a -M fast');
    expect(report.events.filter((e) => e.type === 'MirrorPromoted').map((e) => e.data)).toEqual([
      { content: 1, promotedDbid: 7, demotedDbid: 3 },
    ]);
    expect(types(report)).not.toContain('SegmentRecoveryStarted');
    expect(types(report)).toContain('DoubleFaultDetected');
    const failed = report.events.find((e) => e.type === 'RecoveryFailed');
    expect(failed?.data).toMatchObject({ phase: 'promote' });
    expect(await runtime.stores.lock.read(report.cluster)).toBeUndefined();
  });

  it('escalates a failed incremental recovery to full and ends healthy', async () => {
    const report = await run([{ fail: { host: 'segment-2' } }, { recover: {} }], {
      incrementalFailsFor: [4],
    });
    expect(report.outcome).toEqual({ status: 'succeeded', error: null });
    const failures = report.events.filter((e) => e.type === 'SegmentRecoveryFailed');
    expect(failures.map((e) => e.data)).toEqual([
      expect.objectContaining({ dbid: 4, type: 'incremental' }),
    ]);
    const plans = report.events
      .filter((e) => e.type === 'RecoveryPlanned')
      .map((e) => (e.data as { items: { dbid: number; type: string }[] }).items);
    expect(plans.at(-1)).toEqual([expect.objectContaining({ dbid: 4, type: 'full' })]);
    expectHealthy(await finalRows(report));
  });

  it('recovers a lost data directory with a full recovery', async () => {
    const report = await run([{ fail: { dbid: 6, kind: 'disk-lost' } }, { recover: {} }]);
    expect(report.outcome.status).toBe('succeeded');
    expect(
      report.events.filter((e) => e.type === 'SegmentRecoveryStarted').map((e) => e.data),
    ).toEqual([
      expect.objectContaining({ dbid: 6, type: 'incremental' }),
      expect.objectContaining({ dbid: 6, type: 'full' }),
    ]);
    expectHealthy(await finalRows(report));
  });

  it('does not escalate a forced incremental recovery', async () => {
    const report = await run([
      { fail: { dbid: 6, kind: 'disk-lost' } },
      { recover: { type: 'incremental' } },
    ]);
    expect(report.outcome.status).toBe('failed');
    expect(report.outcome.error).toMatch(
      /IncrementalRecoveryFailed: dbid 6 \(content 0, segment-2:10500\): incremental recovery failed .*forced the type/,
    );
    expect(report.events.find((e) => e.type === 'RecoveryFailed')?.data).toMatchObject({
      phase: 'recover',
    });
  });

  it('rebuilds a replaced host elsewhere with full recoveries, then rebalances', async () => {
    const report = await run(
      [{ fail: { host: 'segment-2' } }, { recover: { targetHosts: { 'segment-2': 'segment-3' } } }],
      { hostRestartSeconds: null },
    );
    expect(report.outcome).toEqual({ status: 'succeeded', error: null });
    const rows = await finalRows(report);
    expectHealthy(rows);
    expect(rows.filter((r) => r.hostname === 'segment-2')).toEqual([]);
    expect(
      rows
        .filter((r) => r.hostname === 'segment-3')
        .map((r) => r.dbid)
        .sort(),
    ).toEqual([4, 5, 6, 7]);
  });

  it('plans without recovering on a dry run', async () => {
    const report = await run([{ fail: { host: 'segment-2' } }, { recover: { dryRun: true } }]);
    expect(report.outcome.status).toBe('succeeded');
    expect(types(report)).not.toContain('SegmentRecoveryStarted');
    expect(report.events.find((e) => e.type === 'RecoveryPlanned')?.data).toMatchObject({
      items: expect.arrayContaining([expect.objectContaining({ dbid: 4, type: 'incremental' })]),
    });
    expect(report.events.at(-1)).toMatchObject({
      type: 'RecoveryCompleted',
      data: { outcome: 'planned' },
    });
  });

  it('finishes with nothing to do on a healthy cluster', async () => {
    const report = await run([{ recover: {} }]);
    expect(report.outcome.status).toBe('succeeded');
    expect(types(report)).toEqual(['ClusterRegistered', 'RecoveryRequested', 'RecoveryCompleted']);
    expect(report.events.at(-1)?.data).toMatchObject({ outcome: 'nothing-to-do' });
  });

  it('recovers a crashed mirror without a rebalance', async () => {
    const report = await run([{ fail: { dbid: 8, kind: 'crash' } }, { recover: {} }]);
    expect(report.outcome.status).toBe('succeeded');
    expect(report.snapshots.map((s) => s.phase)).toEqual([
      'detected',
      'promoted',
      'recovered',
      'synchronized',
    ]);
    expectHealthy(await finalRows(report));
  });
});
