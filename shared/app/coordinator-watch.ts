import type { ClusterOperations } from '#cluster/port.ts';
import { coordinatorRows, isStreamingInSync } from '#domain/coordinator-fold.ts';
import {
  COORDINATOR_LOOK_RULES,
  STANDBY_OBSERVATION_RULES,
  type CoordinatorLookVerdict,
} from '#domain/coordinator.ts';
import type { ClusterState } from '#domain/evolve.ts';
import type { NewEvent } from '#domain/events.ts';
import { decide } from '#domain/rules.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { workflowInputSchema } from '#domain/step-contract.ts';
import { secondsBetween } from '#domain/iso-time.ts';
import { lookCounts, watchIncidentId } from '#domain/watch.ts';
import { ClusterBusy, supersedeDeadHolder } from '#app/control.ts';
import { executionName } from '#app/starter.ts';
import { probeCoordinator } from '#app/coordinator-probe.ts';
import { appendLook, type WatchDeps, type WatchReport } from '#app/watch.ts';

/*
 * The watcher's half of the coordinator failover: at each look, the standby's replication
 * (on record when it changes, confirmed outside the log when it holds); and when a look cannot
 * read the coordinator at all, whether it is lost (COORDINATOR_LOOK_RULES).
 */

/**
 * The standby's replication, when the adapter reads it: an event when STANDBY_OBSERVATION_RULES
 * say the log should hear of it; otherwise, a standby still streaming in sync is confirmed in
 * the store, so that the observation stays fresh without a write to the log at every look.
 */
export async function standbyObservation(
  deps: WatchDeps,
  clusterId: string,
  cluster: ClusterOperations,
  state: ClusterState,
  at: Date,
): Promise<NewEvent[]> {
  const { standby } = coordinatorRows(state.segments);
  if (!standby || !cluster.readStandbyReplication) return [];
  const seen = await cluster.readStandbyReplication();
  const onRecord = state.coordinator?.standby;
  const { then } = decide(STANDBY_OBSERVATION_RULES, { standby, seen, onRecord });
  if (then === 'record')
    return [
      { type: 'StandbySyncObserved', data: { standbyDbid: standby.dbid, replication: seen } },
    ];
  if (onRecord && isStreamingInSync(seen))
    await deps.stores.standby.confirm(clusterId, {
      standbyDbid: onRecord.standbyDbid,
      observationSeq: onRecord.seq,
      at: at.toISOString(),
    });
  return [];
}

/** The coordinator on record answered a look again: its loss is over (unless it was fenced). */
export function coordinatorAnswered(state: ClusterState): NewEvent[] {
  const unreachable = state.coordinator?.unreachable;
  if (!unreachable || state.coordinator?.failover?.fenced) return [];
  return [{ type: 'CoordinatorAnswered', data: { coordinatorDbid: unreachable.coordinatorDbid } }];
}

/**
 * A look whose read of the coordinator failed (`failure`): decided by COORDINATOR_LOOK_RULES.
 * When the coordinator is not lost as those rows see it, the look fails as it failed.
 */
export async function coordinatorLook(
  deps: WatchDeps,
  clusterId: string,
  before: ClusterState,
  cluster: ClusterOperations,
  failure: unknown,
): Promise<WatchReport> {
  const { standby } = coordinatorRows(before.segments);
  const probe = await probeCoordinator(cluster.coordinator, before);
  const known = before.coordinator;
  const { rule, then } = decide(COORDINATOR_LOOK_RULES, {
    standby,
    probe,
    unreachableOnRecord: known?.unreachable !== undefined,
    failoverInProgress: known?.failover !== undefined,
    failoverEndedSinceLoss:
      (secondsBetween(known?.unreachable?.since, known?.lastFailover?.at) ?? -1) >= 0,
  });
  if (then === 'failed-look') throw failure;
  const at = deps.now();
  const lastView = {
    segments: [...before.segments.values()],
    unresponsive: [],
    notReady: [],
    doubleFaults: [],
  };
  const report = (
    action: CoordinatorLookVerdict,
    more: Partial<WatchReport> = {},
  ): WatchReport => ({
    clusterId,
    at: at.toISOString(),
    // The catalog cannot be read: the counts are the log's last view of it.
    counts: { ...lookCounts(lastView), doubleFaults: before.doubleFaults.length },
    whole: false,
    secondsSinceWhole: undefined,
    probed: false,
    recorded: 0,
    rule,
    action,
    outcome: 'done',
    ...more,
  });
  if (then === 'leave-to-run' || then === 'nothing') return report(then);
  if (then === 'record-unreachable') {
    const { coordinator } = coordinatorRows(before.segments);
    const detail = `pg_isready ${coordinator!.hostname}:${coordinator!.port}: no response; standby dbid ${standby!.dbid} answers mirror ready (asked from ${standby!.hostname})`;
    const lost: NewEvent = {
      type: 'CoordinatorUnreachable',
      data: { coordinatorDbid: coordinator!.dbid, detail },
    };
    return (await appendLook(deps, clusterId, before, [lost], at))
      ? report(then, { recorded: 1 })
      : report(then, { outcome: 'stood-down' });
  }
  const incidentId = watchIncidentId(before);
  const input = parseOrThrow(workflowInputSchema, {
    clusterId,
    incidentId,
    kind: 'coordinator',
    trigger: {
      source: 'watch',
      detail: `watcher: coordinator dbid ${known!.unreachable!.coordinatorDbid} does not answer on two looks; standby dbid ${standby!.dbid} answers`,
    },
    options: {},
    ...(deps.waits ? { waits: deps.waits } : {}),
  });
  try {
    await supersedeDeadHolder(deps, clusterId, {
      executionName: executionName(clusterId, incidentId),
      by: `the watcher, incident ${incidentId}`,
    });
  } catch (error) {
    if (error instanceof ClusterBusy) return report(then, { outcome: 'busy' });
    throw error;
  }
  return report(then, { started: { incidentId, ...(await deps.starter.start(input)) } });
}
