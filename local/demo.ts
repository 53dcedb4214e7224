import { readFileSync } from 'node:fs';
import { configurationOf } from '#domain/evolve.ts';
import { deployedDefinition } from '#local/definition.ts';
import { startLocalRuntime, type LocalStore } from '#local/runtime.ts';
import {
  PhaseRecorder,
  parseScenario,
  type PhaseSnapshot,
  type ScenarioPhase,
} from '#local/scenario.ts';
import { printGpstate, printHistory, printTable, type Out } from '#local/output.ts';
import { combine, progressObserver } from '#local/progress.ts';
import { registrationEvents } from '#domain/registration.ts';
import { renderConfigurationTable } from '#domain/render.ts';

const TITLES: Record<ScenarioPhase, string | undefined> = {
  detected: undefined,
  promoted: '1. Failure: FTS marked segment-2 down and promoted the mirrors of contents 2 and 3',
  recovered: undefined,
  synchronized: '2. Recovery: gprecoverseg (incremental, in place), mirrors caught up',
  rebalanced: '3. Rebalance: gprecoverseg -r, roles back to preferred',
};

/**
 * `npm start`: the seed incident end to end on the deployed workflow, locally. Returns the
 * process exit code.
 */
export async function runDemo(out: Out, store: LocalStore = {}): Promise<number> {
  const file = JSON.parse(
    readFileSync(new URL('../scenarios/seed-host-failure.json', import.meta.url), 'utf8'),
  );
  // Sizes that make each phase and its progress visible in about a second; the outcome does
  // not depend on them.
  const scenario = parseScenario({
    ...file,
    simulation: {
      ...file.simulation,
      timeScale: 1,
      // FTS's 30 s mirror-down grace period and a promotion's 5 s, shortened like the copy and
      // catch-up times: at the demo's pace (200 ms), CheckPromotion's 14 retries give up in 3 s.
      mirrorDownGracePeriodSeconds: 1,
      promotionSeconds: 1,
      recoveryKbPerSecond: 100_000,
      walBytesBehind: 16 * 1024 ** 2,
      syncBytesPerSecond: 24 * 1024 ** 2,
    },
  });
  let started = Date.now();
  const phaseTimes: [ScenarioPhase, number][] = [];
  out.line(
    'recoverseg demo: the seed incident (Greenplum 7.2, hosts segment-1 and segment-2, 4 contents, group mirroring)',
  );
  out.line(
    'Everything runs here: DynamoDB Local, the synthesized state machine on aws-local-stepfunctions, the deployed Lambda handlers, a simulated cluster.',
  );
  out.line();
  const recorder = new PhaseRecorder((snapshot: PhaseSnapshot) => {
    phaseTimes.push([snapshot.phase, Date.now() - started]);
    const title = TITLES[snapshot.phase];
    out.done();
    if (title) printTable(out, title, snapshot.configuration);
    else out.line(`-- ${snapshot.phase} (seq ${snapshot.seq})`);
  });
  const runtime = await startLocalRuntime({
    ...store,
    definition: deployedDefinition(),
    observer: combine(progressObserver(out), recorder),
    // The workflow polls at the pace of this compressed time, not every (whole) second.
    pauseMs: 200,
  });
  recorder.attach(runtime);
  try {
    const at = new Date().toISOString();
    await runtime.stores.events.append(scenario.cluster, registrationEvents(scenario.segments), {
      expectedSeq: 0,
      idempotencyKey: 'demo/register',
      causation: { actor: 'demo' },
      at,
    });
    await runtime.api.simulator!.create(scenario.cluster, scenario.segments, scenario.simulation);
    printTable(out, '0. Before the failure', scenario.segments);
    out.line('$ virsh shutdown segment-2    # the virtual machine segment-2 is powered off');
    await runtime.api.simulator!.inject(scenario.cluster, { host: 'segment-2', kind: 'host-down' });
    out.line(
      '$ recoverseg recover --cluster seed   # detect, promote, recover, wait for sync, rebalance',
    );
    out.line();
    started = Date.now();
    const result = await runtime.workflow.run({
      clusterId: scenario.cluster,
      incidentId: 'demo-segment-2',
      trigger: { source: 'cli', detail: 'demo: segment-2 powered off' },
      options: {},
      waits: { pollSeconds: 1 },
    });
    out.done();
    const state = await runtime.stores.events.loadState(scenario.cluster);
    printGpstate(out, state);
    printHistory(out, await runtime.stores.events.read(scenario.cluster));
    out.line('time to each phase since the workflow started (wall clock):');
    for (const [phase, ms] of phaseTimes)
      out.line(`  ${phase.padEnd(13)} ${(ms / 1000).toFixed(1)} s`);
    out.line();
    if (result.status === 'failed') {
      out.line(`recovery FAILED: ${result.error?.name}: ${result.error?.message}`);
      return 1;
    }
    await runtime.poller.drain();
    const projected = await runtime.stores.projection.read(scenario.cluster);
    const consistent =
      renderConfigurationTable(projected.rows) === renderConfigurationTable(configurationOf(state));
    out.line(
      `recovered: ${state.seq} events in the log; the Configuration projection ${consistent ? 'matches' : 'DIFFERS FROM'} the fold of the log`,
    );
    return consistent ? 0 : 1;
  } finally {
    await runtime.stop();
  }
}
