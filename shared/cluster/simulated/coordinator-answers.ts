import { HostUnreachable } from '#cluster/greenplum/errors.ts';
import { CoordinatorNotAnswering } from '#cluster/simulated/errors.ts';
import { coordinatorOf, isHostDown, type SimulatedClusterState } from '#cluster/simulated/model.ts';
import type { SegmentRow } from '#domain/segment.ts';

/*
 * Whether the coordinator answers, as the real adapter finds out: a host that does not answer
 * is HostUnreachable (as over SSM or ssh), a host whose postmaster is gone CoordinatorNotAnswering.
 */

export const hostUnreachable = (host: string, what: string) =>
  new HostUnreachable([host], `${what}: the host does not answer (powered off)`);

/**
 * What runs on the coordinator needs it to answer: its host up and its postmaster running. `row`
 * is the coordinator the caller addresses (by default the catalog's): a row no longer the
 * coordinator has no postmaster answering as one.
 */
export function assertCoordinatorAnswers(
  state: SimulatedClusterState,
  row: SegmentRow = coordinatorOf(state),
): void {
  if (isHostDown(state, row.hostname)) throw hostUnreachable(row.hostname, 'the coordinator');
  const coordinator = coordinatorOf(state);
  if (coordinator.dbid !== row.dbid || !state.processes[row.dbid]?.running)
    throw new CoordinatorNotAnswering(row);
}
