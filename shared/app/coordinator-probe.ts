import type { CoordinatorOperations, CoordinatorProbe } from '#cluster/port.ts';
import { coordinatorRows } from '#domain/coordinator-fold.ts';
import type { ClusterState } from '#domain/evolve.ts';

/**
 * pg_isready on the coordinator and the standby on record, asked from the standby's host (the
 * watcher's look and StartFailover both ask it); undefined when it cannot be asked: no such
 * operations, no standby, or the standby's host does not answer (HostUnreachable, matched by
 * name as Step Functions does, so no adapter class leaks in here).
 */
export async function probeCoordinator(
  ops: CoordinatorOperations | undefined,
  state: ClusterState,
): Promise<CoordinatorProbe | undefined> {
  const { coordinator, standby } = coordinatorRows(state.segments);
  if (!ops || !coordinator || !standby) return undefined;
  try {
    return await ops.probe(coordinator, standby);
  } catch (error) {
    if (error instanceof Error && error.name === 'HostUnreachable') return undefined;
    throw error;
  }
}
