import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { emptyState, evolve, fold as foldEvents } from '#domain/evolve.ts';
import { registrationEvents } from '#domain/registration.ts';
import { log, met, round, time, type BenchContext, type Figures } from './context.ts';
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
  const figures = {
    eventsPerSecond: round(n / (folded.ms / 1000)),
    evolveStepEventsPerSecond: round(steps.length / (stepped.ms / 1000)),
    largeClusterEventsPerSecond: round(large.length / (foldedLarge.ms / 1000)),
    method: `fold() of ${n} events on a 32-segment cluster (the rebuild's fold, in place); evolve() one event at a time (a copy of the state per event) over 200000 events; fold() of 200000 events on a 2048-segment cluster`,
  };
  log(`fold: ${JSON.stringify(figures)}`);
  return {
    ...figures,
    readme: [
      {
        figure: 'Fold, in memory',
        value: `${figures.eventsPerSecond} events/s (2048 segments: ${figures.largeClusterEventsPerSecond})`,
        target: `> 1000000: ${met(figures.eventsPerSecond > 1_000_000)}`,
      },
    ],
  };
}
