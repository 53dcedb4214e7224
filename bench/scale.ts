import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { registrationEvents } from '#domain/registration.ts';
import { documentClient } from '#store/clients.ts';
import { log, met, round, time, type BenchContext, type Figures } from './context.ts';
import { RequestCounter } from './dynamodb-counter.ts';

/** A host failure on clusters of growing size: does the time per affected segment stay flat? */
export async function scale(context: BenchContext): Promise<Figures> {
  const { runtime } = await context.workflow();
  const counter = new RequestCounter().install(documentClient()).install(runtime.client);
  const runs: {
    affectedSegments: number;
    clusterSegments: number;
    wallMs: number;
    msPerAffectedSegment: number;
    dynamodbRequests: number;
    dynamodbRequestsPerAffectedSegment: number;
    events: number;
  }[] = [];
  for (const affected of context.quick ? [8, 64, 512] : [8, 64, 512, 1024]) {
    const segments = groupMirroredCluster(4, affected / 2);
    const clusterId = `scale-${affected}`;
    await runtime.stores.events.append(clusterId, registrationEvents(segments), {
      expectedSeq: 0,
      idempotencyKey: 'register',
      at: new Date().toISOString(),
    });
    await runtime.api.simulator!.create(clusterId, segments, { timeScale: 0 });
    await runtime.api.simulator!.inject(clusterId, { host: 'sdw1', kind: 'host-down' });
    counter.reset();
    const { ms, value } = await time(() =>
      runtime.workflow.run({
        clusterId,
        incidentId: 'host-down',
        trigger: { source: 'scenario' },
        options: {},
        waits: { pollSeconds: 0 },
      }),
    );
    if (value.status !== 'succeeded')
      throw new Error(`scale ${affected}: ${JSON.stringify(value.error)}`);
    const row = {
      affectedSegments: affected,
      clusterSegments: segments.length - 1,
      wallMs: round(ms),
      msPerAffectedSegment: round(ms / affected, 2),
      dynamodbRequests: counter.total,
      dynamodbRequestsPerAffectedSegment: round(counter.total / affected, 2),
      events: (await runtime.stores.events.readHead(clusterId)).lastSeq,
    };
    runs.push(row);
    log(`scale: ${JSON.stringify(row)}`);
  }
  const ratio = round(runs.at(-1)!.msPerAffectedSegment / runs[0]!.msPerAffectedSegment, 2);
  return {
    runs,
    largestOverSmallestPerSegment: ratio,
    method:
      'group mirroring on 4 hosts; sdw1 powered off, so its primaries fail over and its mirrors go down (affected = 2 x primaries per host); one workflow run: detect, promote, recover in place, resync, rebalance; zero simulated time, pollSeconds 0',
    readme: [
      ...runs.map((r) => ({
        figure: `Host failure, ${r.affectedSegments} segments affected (local)`,
        value: `${r.wallMs} ms, ${r.msPerAffectedSegment} ms/segment, ${r.dynamodbRequests} requests`,
      })),
      {
        figure: 'Host failure, largest / smallest per segment',
        value: `${ratio}x`,
        target: `<= 1.5x: ${met(ratio <= 1.5)}`,
      },
    ],
  };
}
