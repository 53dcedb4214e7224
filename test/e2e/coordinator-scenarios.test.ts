import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime.ts';
import { type PhaseRecorder, parseScenario, runScenario } from '#local/scenario.ts';
import { localWorkflowRuntime } from '#test/support.ts';

/*
 * The coordinator scenario files as a user runs them (`recoverseg scenario FILE`): a lost
 * coordinator with a synced standby is failed over, a lagging standby is refused, and with no
 * fence the activation waits for an operator.
 */

let runtime: LocalRuntime;
let recorder: PhaseRecorder;

beforeAll(async () => {
  ({ runtime, recorder } = await localWorkflowRuntime('coordinator-scenarios'));
});
afterAll(async () => runtime.stop());

const scenarioFile = (name: string) =>
  parseScenario(
    JSON.parse(
      readFileSync(new URL(`../../scenarios/${name}.json`, import.meta.url), 'utf8'),
    ) as unknown,
  );

const run = (name: string) =>
  runScenario(runtime, recorder, scenarioFile(name), { pollSeconds: 0 });

describe('coordinator scenarios', () => {
  it('a synced standby is activated after the old coordinator is fenced (policy auto)', async () => {
    const report = await run('coordinator-loss-synced');
    expect(report.outcome).toEqual({ status: 'succeeded', error: null });
    expect(report.events.find((e) => e.type === 'CoordinatorFenced')?.data).toMatchObject({
      how: 'pg-ctl-stop-immediate',
      detail: expect.stringContaining('removed /tmp/.s.PGSQL.5432, /tmp/.s.PGSQL.5432.lock'),
    });
    const state = await runtime.stores.events.loadState(report.cluster);
    expect(state.coordinator?.lastFailover).toMatchObject({
      status: 'completed',
      outcome: 'activated',
    });
  });

  it('a lagging standby is refused, naming the observation, and nothing is activated', async () => {
    const report = await run('coordinator-loss-lagging');
    expect(report.outcome.status).toBe('succeeded');
    const types = report.events.map((e) => e.type);
    expect(types).not.toContain('CoordinatorFailoverStarted');
    expect(types).not.toContain('StandbyActivated');
    expect(report.events.find((e) => e.type === 'CoordinatorFailoverRefused')?.data).toMatchObject({
      reason: expect.stringMatching(
        /^standby dbid 10 \(standby:5432\): the last observation on record \(seq \d+, .*\) shows walsender catchup/,
      ),
    });
  });

  it('without a fence the activation waits for an operator, naming the risk, and goes ahead on the approval', async () => {
    const report = await run('coordinator-loss-no-fence');
    expect(report.outcome.status).toBe('succeeded');
    const waiting = report.events.find((e) => e.type === 'CoordinatorFailoverAwaitingApproval');
    expect(waiting?.data).toMatchObject({
      fence: 'none',
      risk: expect.stringContaining('two coordinators run'),
    });
    expect(report.events.find((e) => e.type === 'CoordinatorFenced')?.data).toMatchObject({
      how: 'none',
      detail: 'no fence: approved by dba',
    });
  });

  it('without a fence and without an approval, nothing is activated and the run ends failed on record', async () => {
    const scenario = scenarioFile('coordinator-loss-no-fence');
    const unapproved = {
      ...scenario,
      cluster: 'coordinator-unapproved',
      steps: [scenario.steps[0]!, scenario.steps[1]!, { failover: { activationWaitSeconds: 1 } }],
    };
    const report = await runScenario(runtime, recorder, unapproved, { pollSeconds: 0 });
    const types = report.events.map((e) => e.type);
    expect(types).toContain('CoordinatorFailoverAwaitingApproval');
    expect(types).not.toContain('CoordinatorFenced');
    expect(types).not.toContain('StandbyActivated');
    expect(report.events.at(-1)).toMatchObject({
      type: 'CoordinatorFailoverFailed',
      data: { reason: expect.stringContaining('no operator approved the activation within 1 s') },
    });
  });
});
