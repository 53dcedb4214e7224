import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { sharedDynamoFlags } from '#test/e2e/shared-dynamo.ts';

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;

describe('npm start (recoverseg demo)', () => {
  it('shows every phase of the seed incident and ends with a projection that matches the log', () => {
    const { status, stdout, stderr } = spawnSync(
      process.execPath,
      [BIN, 'demo', ...sharedDynamoFlags('demo')],
      {
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, FORCE_COLOR: '0' },
      },
    );
    expect(status, stderr).toBe(0);
    const titles = [
      '## 0. Before the failure',
      '$ virsh shutdown segment-2',
      '-- detected (seq',
      '## 1. Failure: FTS marked segment-2 down and promoted the mirrors of contents 2 and 3',
      'gprecoverseg    100% segments up',
      '-- recovered (seq',
      'wait for sync   100% all pairs synchronized',
      '## 2. Recovery: gprecoverseg (incremental, in place), mirrors caught up',
      'gprecoverseg -r 100% segments up',
      '## 3. Rebalance: gprecoverseg -r, roles back to preferred',
      '$ gpstate -m',
      'All segments are running normally',
      'gp_configuration_history (time | seq | dbid | desc):',
      'time to each phase since the workflow started (wall clock):',
      'events in the log; the Configuration projection matches the fold of the log',
    ];
    const at = titles.map((title) => stdout.indexOf(title));
    expect(Object.fromEntries(titles.map((t, i) => [t, at[i]! >= 0])), stdout).toEqual(
      Object.fromEntries(titles.map((t) => [t, true])),
    );
    expect(at).toEqual([...at].sort((a, b) => a - b));
    for (const phase of ['detected', 'promoted', 'recovered', 'synchronized', 'rebalanced'])
      expect(stdout).toMatch(new RegExp(`^  ${phase} +\\d+\\.\\d s$`, 'm'));
  }, 120_000);
});
