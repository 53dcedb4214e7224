import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { emptyState, evolve, fold as foldEvents } from '#domain/evolve.ts';
import { registrationEvents } from '#domain/registration.ts';
import { hostFailureLog } from '#test/fixtures/host-failure-log.ts';
import { log, median, met, round, time, type BenchContext, type Figures } from './context.ts';
import { churn } from './events.ts';

/** The in-memory fold of events into the cluster state, no I/O. */
export async function fold(context: BenchContext): Promise<Figures> {
  const n = context.quick ? 1_000_000 : 3_000_000;
  const small = [...registrationEvents(groupMirroredCluster(4, 4)), ...churn(16, n)];
  foldEvents(small.slice(0, 100_000));
  const folded = await time(async () => foldEvents(small));
  const steps = small.slice(0, 200_000);
  const stepped = await time(async () => steps.reduce((s, e) => evolve(s, e), emptyState()));
  const large = [...registrationEvents(groupMirroredCluster(8, 128)), ...churn(1024, 200_000)];
  const foldedLarge = await time(async () => foldEvents(large));
  // The scale bench's largest incident (16,385 rows, every other host off) without its run:
  // as many rows as events over three, so whatever the fold does per row counts.
  const failure = hostFailureLog(groupMirroredCluster(512, 16), (host) => /[13579]$/.test(host));
  const incident = [
    ...failure.registration,
    ...failure.failure,
    ...failure.recovery,
    ...failure.rebalance,
  ];
  foldEvents(incident);
  const foldedIncident: number[] = [];
  for (let i = 0; i < (context.quick ? 3 : 7); i++)
    foldedIncident.push((await time(async () => foldEvents(incident))).ms);
  const figures = {
    eventsPerSecond: round(n / (folded.ms / 1000)),
    evolveStepEventsPerSecond: round(steps.length / (stepped.ms / 1000)),
    largeClusterEventsPerSecond: round(large.length / (foldedLarge.ms / 1000)),
    hostFailureEventsPerSecond: round(incident.length / (median(foldedIncident) / 1000)),
    method: `fold() of ${n} events on a 32-segment cluster (the rebuild's fold, in place); evolve() one event at a time (a copy of the state per event) over 200000 events; fold() of 200000 events on a 2048-segment cluster; fold() of the ${incident.length} events of a host failure on a 16384-segment cluster (test/fixtures/host-failure-log.ts, every other host off: promote, recover, resync, rebalance), median of ${foldedIncident.length} after one`,
  };
  log(`fold: ${JSON.stringify(figures)}`);
  return {
    ...figures,
    readme: [
      {
        figure: 'Fold, in memory',
        value: `${figures.eventsPerSecond} events/s (2048 segments: ${figures.largeClusterEventsPerSecond}; host failure on 16384: ${figures.hostFailureEventsPerSecond})`,
        target: `> 1000000: ${met(figures.eventsPerSecond > 1_000_000)}`,
      },
    ],
  };
}
