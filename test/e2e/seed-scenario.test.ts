import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { LocalRuntime } from '#local/runtime.ts';
import { type PhaseRecorder, parseScenario, runScenario } from '#local/scenario.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { SEED_SCENARIO_FILE, seedTables } from '#test/fixtures/seed.ts';
import { localWorkflowRuntime } from '#test/support.ts';

let runtime: LocalRuntime;
let recorder: PhaseRecorder;

beforeAll(async () => {
  ({ runtime, recorder } = await localWorkflowRuntime('e2e'));
});
afterAll(async () => runtime.stop());

describe('the seed incident end to end on the local workflow', () => {
  it('passes the golden scenario with the seed tables at promoted, synchronized and rebalanced', async () => {
    const file = JSON.parse(readFileSync(SEED_SCENARIO_FILE, 'utf8'));
    const scenario = parseScenario({ ...file, simulation: { ...file.simulation, timeScale: 0 } });
    const report = await runScenario(runtime, recorder, scenario, { pollSeconds: 0 });
    expect(report.outcome).toEqual({ status: 'succeeded', error: null });
    expect(report.snapshots.map((s) => s.phase)).toEqual([
      'detected',
      'promoted',
      'recovered',
      'synchronized',
      'rebalanced',
    ]);
    const [t1, t2, t3] = seedTables();
    const table = (phase: string) =>
      renderConfigurationTable(report.snapshots.find((s) => s.phase === phase)!.configuration);
    expect(table('promoted')).toBe(t1);
    expect(table('synchronized')).toBe(t2);
    expect(table('rebalanced')).toBe(t3);
    const types = report.events.map((e) => e.type);
    expect(types[0]).toBe('ClusterRegistered');
    expect(types.at(-1)).toBe('RecoveryCompleted');
    expect(report.events.map((e) => e.seq)).toEqual(report.events.map((_, i) => i + 1));
    await runtime.poller.drain();
    const projected = await runtime.stores.projection.read('seed');
    expect(renderConfigurationTable(projected.rows)).toBe(t3);
    expect(await runtime.stores.lock.read('seed')).toBeUndefined();
  });
});
