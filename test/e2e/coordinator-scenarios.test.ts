import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime.ts';
import { type PhaseRecorder, type Scenario, parseScenario, runScenario } from '#local/scenario.ts';
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
  it('a synced standby is activated after the old coordinator is fenced (policy auto), then a new standby is created', async () => {
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
      reason: expect.stringContaining('the coordinator is dbid 10 on standby:5432'),
    });
    // gpinitstandby picked the next dbid, as Greenplum does (capture 135).
    expect(report.events.find((e) => e.type === 'StandbyInitialized')?.data).toMatchObject({
      dbid: 11,
      location: { hostname: 'master', datadir: '/data1/standby/gpseg-1' },
    });
  });

  it("refuses a new standby in the old coordinator's data directory on its host (capture 134): on record, and the failover is done all the same", async () => {
    const scenario = scenarioFile('coordinator-loss-synced');
    const failover = scenario.steps[3] as { failover: { standby: Record<string, unknown> } };
    const report = await runScenario(
      runtime,
      recorder,
      {
        ...scenario,
        cluster: 'coordinator-old-dir',
        steps: [
          ...scenario.steps.slice(0, 3),
          {
            failover: {
              standby: { ...failover.failover.standby, datadir: '/data1/master/gpseg-1' },
            },
          } as Scenario['steps'][number],
        ],
      },
      { pollSeconds: 0 },
    );
    expect(report.outcome.status).toBe('succeeded');
    const types = report.events.map((e) => e.type);
    expect(types).not.toContain('StandbyInitialized');
    expect(types.slice(-3)).toEqual([
      'StandbyActivated',
      'StandbyInitializationFailed',
      'CoordinatorFailoverCompleted',
    ]);
    expect(report.events.at(-2)?.data).toMatchObject({
      location: { hostname: 'master', datadir: '/data1/master/gpseg-1' },
      reason: expect.stringMatching(/exists/),
    });
    const state = await runtime.stores.events.loadState('coordinator-old-dir');
    expect(state.coordinator?.standbyFailure?.hostname).toBe('master');
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

  it('a standby run (recoverseg standby) creates a standby where there is none, and frees the cluster', async () => {
    const base = scenarioFile('coordinator-loss-synced');
    const report = await runScenario(
      runtime,
      recorder,
      {
        ...base,
        cluster: 'standby-run',
        segments: base.segments.filter((r) => r.dbid !== 10),
        steps: [],
      },
      { pollSeconds: 0 },
    );
    expect(report.outcome.status).toBe('succeeded');
    const result = await runtime.workflow.run({
      clusterId: 'standby-run',
      incidentId: 'standby-1',
      kind: 'standby',
      trigger: { source: 'scenario' },
      options: {},
      standby: {
        hostname: 'standby',
        address: 'standby',
        port: 5432,
        datadir: '/data1/master/gpseg-1',
      },
      waits: { pollSeconds: 0 },
    });
    expect(result.status).toBe('succeeded');
    const events = await runtime.stores.events.read('standby-run');
    expect(events.at(-1)).toMatchObject({
      type: 'StandbyInitialized',
      data: { dbid: 10, location: { hostname: 'standby' } },
    });
    expect(await runtime.stores.lock.read('standby-run')).toBeUndefined();
  });

  it('a policy naming where a new standby goes has the failover create it, with no word in the run', async () => {
    const base = scenarioFile('coordinator-loss-synced');
    const where = {
      hostname: 'master',
      address: 'master',
      port: 5432,
      datadir: '/data1/s2/gpseg-1',
    };
    const report = await runScenario(
      runtime,
      recorder,
      {
        ...base,
        cluster: 'standby-by-policy',
        steps: [
          { policy: { coordinatorPolicy: 'auto', newStandby: where } },
          { watch: {} },
          { fail: { dbid: 1, kind: 'crash' } },
          { failover: {} },
        ] as Scenario['steps'],
      },
      { pollSeconds: 0 },
    );
    expect(report.outcome.status).toBe('succeeded');
    expect(report.events.find((e) => e.type === 'StandbyInitialized')?.data).toMatchObject({
      dbid: 11,
      location: where,
    });
  });
});
