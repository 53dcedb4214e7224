import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import { fold as foldEvents } from '#domain/evolve.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { TaskParts } from '#lambdas/common/workflow-task.ts';
import { simulatedBackend } from '#cluster/simulated/backend.ts';
import { WORKFLOW_TASKS, type WorkflowTask } from '#infra/tasks.ts';
import { documentClient } from '#store/clients.ts';
import { readCapture } from '#test/unit/cluster/greenplum/captures.ts';
import {
  log,
  median,
  met,
  round,
  time,
  type BenchContext,
  type Figures,
  type LocalWorkflowRun,
} from './context.ts';
import { RequestCounter } from './dynamodb-counter.ts';
import { SimulatedCoordinator } from './greenplum-coordinator.ts';
import { REBUILD_METHOD, rebuildAgainstRaw, rebuildRatios, rebuildTarget } from './rebuild.ts';

/** Segments affected per incident: the sizes, 8,192 on a 16,384-segment cluster. */
const SIZES = [8, 64, 512, 2048, 8192];
const QUICK_SIZES = [8, 64, 512];
/** The size per-segment costs are compared with (its fixed costs are spread thin already). */
const BASE = 64;

/**
 * Hosts of 16 primaries and 16 mirrors (group mirroring: a host's mirrors on the next host),
 * every other host powered off: each failed host's primaries fail over to the next host and
 * its mirrors go down, 32 affected segments per failed host, no double fault. The cluster has
 * twice the affected segments: a content has at most one affected segment.
 */
function hostFailure(affected: number): { hosts: number; perHost: number; failed: string[] } {
  const perHost = Math.min(16, affected / 2);
  const failedHosts = affected / (2 * perHost);
  return {
    hosts: 2 * failedHosts,
    perHost,
    failed: Array.from({ length: failedHosts }, (_, i) => `sdw${2 * i + 1}`),
  };
}

interface Run {
  backend: 'simulated' | 'greenplum';
  affectedSegments: number;
  clusterSegments: number;
  failedHosts: number;
  wallMs: number;
  msPerAffectedSegment: number;
  dynamodbRequests: number;
  dynamodbRequestsPerAffectedSegment: number;
  events: number;
  /** Registering the cluster, creating its simulation and powering its failed hosts off. */
  setupMs: number;
}

/**
 * A host failure on clusters of growing size, end to end through the local workflow: once on
 * the simulated cluster, once through the Greenplum adapter (scripts built, answers parsed) over
 * a coordinator answering in the captures' formats from the same kind of simulation. Does the
 * time per affected segment stay flat?
 */
export async function scale(context: BenchContext): Promise<Figures> {
  const workflow = await context.workflow();
  const { runtime } = workflow;
  const counter = new RequestCounter().install(documentClient()).install(runtime.client);
  const version = (await readCapture('01a_postgres_gp_version.txt')).body.trim();
  // The deployed handlers' cluster backend, with the bench's Greenplum clusters routed to the
  // adapter: the handlers and steps run as deployed. Built here before any Task runs, it is the
  // one every Task that drives the cluster shares in this process.
  const greenplum = new Map<string, GreenplumClusterOperations>();
  // Imported once the local runtime has set the handlers' environment: Powertools reads it at
  // import (imported with this file, every Task's metrics were printed to the bench's output).
  const { workflowDeps } = await import('#lambdas/common/workflow-task.ts');
  const routed: TaskParts['cluster'] = (doc, tables) => {
    const simulated = simulatedBackend(doc, tables);
    return (clusterId) => greenplum.get(clusterId) ?? simulated(clusterId);
  };
  for (const [task, { drivesCluster }] of Object.entries(WORKFLOW_TASKS))
    if (drivesCluster) workflowDeps(task as WorkflowTask, { cluster: routed });
  const runs: Run[] = [];
  try {
    for (const affected of context.quick ? QUICK_SIZES : SIZES)
      for (const backend of ['simulated', 'greenplum'] as const) {
        const clusterId = `scale-${backend}-${affected}`;
        if (backend === 'greenplum') {
          const sim = new SimulatedCluster({
            doc: runtime.stores.doc,
            tables: runtime.stores.tables,
            clusterId,
            clock: Date.now,
          });
          greenplum.set(
            clusterId,
            new GreenplumClusterOperations({ transport: new SimulatedCoordinator(sim, version) }),
          );
        }
        const run = await incident(workflow, counter, clusterId, backend, affected);
        runs.push(run);
        log(`scale: ${JSON.stringify(run)}`);
      }
  } finally {
    greenplum.clear();
  }
  const largest = await largestLog(
    workflow,
    `scale-simulated-${runs.at(-1)!.affectedSegments}`,
    context.quick ? 1 : 3,
  );
  log(`scale: ${JSON.stringify(largest)}`);
  const perSegment = (backend: Run['backend'], affected: number) =>
    runs.find((r) => r.backend === backend && r.affectedSegments === affected)!
      .msPerAffectedSegment;
  const top = runs.at(-1)!.affectedSegments;
  const ratios = {
    simulated: round(perSegment('simulated', top) / perSegment('simulated', BASE), 2),
    greenplum: round(perSegment('greenplum', top) / perSegment('greenplum', BASE), 2),
  };
  return {
    runs,
    topOverBasePerSegment: ratios,
    largestLog: largest,
    method: `group mirroring, 16 primaries and 16 mirrors per host (4 and 4 at 8 affected), every other host powered off in one step (affected = 32 per failed host; the cluster twice the affected); one workflow run each: detect, promote, recover in place, resync, rebalance; zero simulated time, pollSeconds 0. simulated: the simulated cluster; greenplum: GreenplumClusterOperations (scripts built, answers parsed) over bench/greenplum-coordinator.ts, which answers in the formats of the 6.24.3 captures from a simulation. DynamoDB requests: every request of the run (event log, projection, lock, simulation state); top over base: ms per affected segment at ${top} over that at ${BASE}`,
    readme: [
      ...runs.map((r) => ({
        figure: `Host failure, ${r.affectedSegments} of ${r.clusterSegments} segments affected (${r.backend})`,
        value: `${r.wallMs} ms, ${r.msPerAffectedSegment} ms/segment, ${r.dynamodbRequests} DynamoDB requests`,
      })),
      {
        figure: `Projection rebuild of the ${largest.rows}-row cluster's log, ${largest.events} events`,
        value: rebuildRatios(largest),
        target: rebuildTarget(largest),
      },
      {
        figure: `Fold of the ${largest.rows}-row cluster's log, ${largest.events} events`,
        value: `${largest.foldEventsPerSecond} events/s (the first fold: ${largest.firstFoldEventsPerSecond})`,
        target: `> 1000000: ${met(largest.foldEventsPerSecond > 1_000_000)}`,
      },
      ...(['simulated', 'greenplum'] as const).map((backend) => ({
        figure: `Host failure per segment, ${top} over ${BASE} affected (${backend})`,
        value: `${ratios[backend]}x`,
        target: `<= 1.5x: ${met(ratios[backend] <= 1.5)}`,
      })),
    ],
  };
}

async function incident(
  { runtime }: LocalWorkflowRun,
  counter: RequestCounter,
  clusterId: string,
  backend: Run['backend'],
  affected: number,
): Promise<Run> {
  const setup = performance.now();
  const shape = hostFailure(affected);
  const segments = groupMirroredCluster(shape.hosts, shape.perHost);
  await runtime.stores.events.append(clusterId, registrationEvents(segments), {
    expectedSeq: 0,
    idempotencyKey: 'register',
    at: new Date().toISOString(),
  });
  await runtime.api.simulator!.create(clusterId, segments, { timeScale: 0 });
  // In one step, as a rack's power failure (one read and write of the simulation, not one per
  // host: 256 hosts one at a time took over a minute at 8,192).
  await new SimulatedCluster({
    doc: runtime.stores.doc,
    tables: runtime.stores.tables,
    clusterId,
    clock: Date.now,
  }).failHosts(shape.failed);
  const setupMs = round(performance.now() - setup);
  const before = (await runtime.stores.events.readHead(clusterId)).lastSeq;
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
    throw new Error(`scale ${clusterId}: ${JSON.stringify(value.error)}`);
  return {
    backend,
    affectedSegments: affected,
    clusterSegments: segments.length - 1,
    failedHosts: shape.failed.length,
    wallMs: round(ms),
    msPerAffectedSegment: round(ms / affected, 2),
    dynamodbRequests: counter.total,
    dynamodbRequestsPerAffectedSegment: round(counter.total / affected, 2),
    events: (await runtime.stores.events.readHead(clusterId)).lastSeq - before,
    setupMs,
  };
}

/**
 * The log of the largest incident: its projection rebuilt (Projector.rebuild, rows and summary
 * replaced) against the raw Query and writes a rebuild must do at least, and the fold of it in
 * memory; the ratios the rebuild and fold measurements hold on small clusters.
 */
async function largestLog({ runtime }: LocalWorkflowRun, clusterId: string, rounds: number) {
  const against = await rebuildAgainstRaw(runtime.stores, clusterId, rounds);
  const events = await runtime.stores.events.read(clusterId);
  // As bench/fold.ts measures a fold: the median of 7 after one, which the first (V8 compiling
  // the fold, the heap growing) is; the first is reported too.
  const first = await time(async () => foldEvents(events));
  const folds: number[] = [];
  for (let i = 0; i < 7; i++) folds.push((await time(async () => foldEvents(events))).ms);
  return {
    ...against,
    foldEventsPerSecond: round(events.length / (median(folds) / 1000)),
    firstFoldEventsPerSecond: round(events.length / (first.ms / 1000)),
    method: `${REBUILD_METHOD}; foldEventsPerSecond: fold() of the log in memory, the median of 7 after one (firstFoldEventsPerSecond: that first one)`,
  };
}
