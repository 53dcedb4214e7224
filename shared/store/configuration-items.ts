import { gunzipSync, gzipSync } from 'node:zlib';
import { emptyState, type ClusterState } from '#domain/evolve.ts';
import { COLUMNS, sortRows, type SegmentRow } from '#domain/segment.ts';
import type { ClusterSummary, ProjectedConfiguration } from '#store/ports.ts';

/**
 * The Configuration table's items, shared by both implementations of the projection port so
 * the memory store keeps exactly what DynamoDB keeps: one item per dbid, stamped with the seq
 * that wrote it, and a summary item at dbid 0 with `lastSeq` and the rest of the folded state.
 */
export const SUMMARY_DBID = 0;

export type ConfigurationItem = Record<string, unknown>;

export const rowItem = (clusterId: string, row: SegmentRow, seq: number): ConfigurationItem => ({
  clusterId,
  ...row,
  projectedSeq: seq,
});

export function summaryItem(clusterId: string, state: ClusterState): ConfigurationItem {
  return {
    clusterId,
    dbid: SUMMARY_DBID,
    lastSeq: state.seq,
    registration: state.registration,
    doubleFaults: [...state.doubleFaults],
    // The recovery whole, gzipped (base64): an 8,000-segment plan and its lists are some 700 KB of
    // JSON, over DynamoDB's 400 KB per item; the cluster list reads its incident id.
    recovery: state.recovery && { incidentId: state.recovery.incidentId },
    recoveryGzip: state.recovery && gzipSync(JSON.stringify(state.recovery)).toString('base64'),
    lastIncident: state.lastIncident,
    // The policies and the watcher's record: the status route reads them from here.
    rebalancePolicy: state.rebalancePolicy,
    recoveryPolicy: state.recoveryPolicy,
    watch: state.watch,
    // The standby's last observation and a failover in progress: the projector folds the next
    // events onto this state, and a coordinator event checks it.
    coordinator: state.coordinator,
  };
}

const rowOf = (item: ConfigurationItem): SegmentRow =>
  Object.fromEntries(COLUMNS.map((c) => [c, item[c]])) as SegmentRow;

/** A field of the state that is absent until an event sets it, as the fold leaves it. */
const optional = <K extends 'rebalancePolicy' | 'recoveryPolicy' | 'watch' | 'coordinator'>(
  summary: ConfigurationItem,
  key: K,
): Pick<ClusterState, K> | Record<string, never> =>
  summary[key] === undefined || summary[key] === null
    ? {}
    : ({ [key]: summary[key] } as Pick<ClusterState, K>);

/** The summary's recovery; items written before it was gzipped hold it as it is. */
function recoveryOf(summary: ConfigurationItem): ClusterState['recovery'] {
  const gzipped = summary.recoveryGzip as string | undefined;
  if (gzipped)
    return JSON.parse(
      gunzipSync(Buffer.from(gzipped, 'base64')).toString('utf8'),
    ) as ClusterState['recovery'];
  return (summary.recovery as ClusterState['recovery']) ?? undefined;
}

/** One cluster's items (any order) back into its state and sorted rows. */
export function projectedOf(items: readonly ConfigurationItem[]): ProjectedConfiguration {
  const summary = items.find((item) => item.dbid === SUMMARY_DBID);
  const rows = items.filter((item) => item.dbid !== SUMMARY_DBID).map(rowOf);
  const state: ClusterState = summary
    ? {
        seq: summary.lastSeq as number,
        segments: new Map(rows.map((r) => [r.dbid, r])),
        registration: (summary.registration as ClusterState['registration']) ?? undefined,
        doubleFaults: (summary.doubleFaults as number[]) ?? [],
        recovery: recoveryOf(summary),
        lastIncident: (summary.lastIncident as ClusterState['lastIncident']) ?? undefined,
        ...optional(summary, 'rebalancePolicy'),
        ...optional(summary, 'recoveryPolicy'),
        ...optional(summary, 'watch'),
        ...optional(summary, 'coordinator'),
      }
    : emptyState();
  return { state, rows: sortRows(state.segments.values()) };
}

/** The fields of a summary item the cluster list shows. */
export const SUMMARY_FIELDS = ['clusterId', 'lastSeq', 'recovery', 'lastIncident', 'doubleFaults'];

export function clusterSummaryOf(item: ConfigurationItem): ClusterSummary {
  const recovery = item.recovery as { incidentId: string } | undefined;
  const last = item.lastIncident as { incidentId: string; status: string } | undefined;
  return {
    clusterId: item.clusterId as string,
    seq: item.lastSeq as number,
    recovery: recovery ? { incidentId: recovery.incidentId } : undefined,
    lastIncident: last ? { incidentId: last.incidentId, status: last.status } : undefined,
    doubleFaults: (item.doubleFaults as number[] | undefined) ?? [],
  };
}
