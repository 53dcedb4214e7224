import type { ClusterState } from '#domain/evolve.ts';
import type { SegmentRow } from '#domain/segment.ts';

/** ClusterState as plain JSON (its segment map as rows), for snapshots and the projection. */
export interface StateDocument extends Omit<ClusterState, 'segments'> {
  segments: SegmentRow[];
}

export const toDocument = (state: ClusterState): StateDocument => ({
  ...state,
  segments: [...state.segments.values()].sort((a, b) => a.dbid - b.dbid),
});

export const fromDocument = (doc: StateDocument): ClusterState => ({
  ...doc,
  segments: new Map(doc.segments.map((row) => [row.dbid, row])),
});
