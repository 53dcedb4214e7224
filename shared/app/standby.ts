import { coordinatorRows } from '#domain/coordinator-fold.ts';
import { coordinatorPolicyOf } from '#domain/coordinator.ts';
import { reconcile } from '#domain/reconcile.ts';
import { sameLocation } from '#domain/segment.ts';
import type { TaskEvent, standbyResultSchema } from '#domain/step-contract.ts';
import type * as z from '#domain/zod.ts';
import { loadRegistered, record, takeCluster, type StepDeps } from '#app/steps.ts';

/** What gpinitstandby's host or the tool said no with, by name: kept on record, not retried. */
const REFUSALS = new Set([
  'StandbyCommandFailed',
  'HostUnreachable',
  'HostNotManaged',
  'CoordinatorScriptFailed',
]);

/** A standby cannot be created as asked; nothing was changed. */
export class StandbyNotInitialized extends Error {
  override name = 'StandbyNotInitialized';
}

/**
 * `gpinitstandby -a -s HOST -P PORT -S DIR` on the coordinator on record, then the catalog read
 * back: Greenplum picks the new standby's dbid (captures 135, 142), so StandbyInitialized is
 * what the catalog shows, reconciled, not what was asked. A retry that finds the standby at
 * that location on record is done.
 */
export async function initializeStandby(
  deps: StepDeps,
  event: TaskEvent,
): Promise<z.infer<typeof standbyResultSchema>> {
  const { clusterId, kind } = event.input;
  // A run of its own takes the cluster; after a failover, the failover run holds it already.
  if (kind === 'standby') await takeCluster(deps, event);
  const at = deps.now().toISOString();
  const before = await loadRegistered(deps, clusterId);
  // Where the run was asked to make it, else where the coordinator policy says.
  const location = event.input.standby ?? coordinatorPolicyOf(before).newStandby;
  if (!location)
    throw new StandbyNotInitialized(
      `cluster ${clusterId}: no standby location given (hostname, address, port, datadir)`,
    );
  const { coordinator, standby } = coordinatorRows(before.segments);
  if (standby && sameLocation(standby, location)) return { at, dbid: standby.dbid };
  if (standby)
    throw new StandbyNotInitialized(
      `cluster ${clusterId} already has a standby coordinator, dbid ${standby.dbid} on ${standby.hostname}:${standby.port}; remove it first (gpinitstandby -r)`,
    );
  if (!coordinator)
    throw new StandbyNotInitialized(
      `cluster ${clusterId}: no coordinator (content -1, role p) on record`,
    );
  const cluster = deps.cluster(clusterId, coordinator);
  if (!cluster.coordinator)
    throw new StandbyNotInitialized(
      `cluster ${clusterId}: this deployment's adapter cannot run gpinitstandby; run it by hand (the next look records the standby)`,
    );
  try {
    await cluster.coordinator.initializeStandby(coordinator, location);
  } catch (error) {
    if (!(error instanceof Error) || !REFUSALS.has(error.name)) throw error;
    // The tool's own refusal is a fact of this run: on record, and the run goes on (a failover
    // that activated its standby is done all the same).
    const reason = error.message.slice(0, 2000);
    await record(deps, event, 'InitializeStandby', () => [
      {
        type: 'StandbyInitializationFailed',
        data: { incidentId: event.input.incidentId, location, reason },
      },
    ]);
    return { at, failed: reason };
  }
  const observation = await cluster.readConfiguration();
  const { state } = await record(deps, event, 'InitializeStandby', (s) =>
    reconcile(s, observation),
  );
  const created = coordinatorRows(state.segments).standby;
  if (!created || !sameLocation(created, location))
    throw new StandbyNotInitialized(
      `cluster ${clusterId}: gpinitstandby ended, but the catalog shows no standby at ${location.hostname}:${location.port}`,
    );
  return { at, dbid: created.dbid };
}
