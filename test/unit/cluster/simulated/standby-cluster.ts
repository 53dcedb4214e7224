import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { createState, type SimulatedClusterState } from '#cluster/simulated/model.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { catalogCapture } from '../greenplum/captures.ts';

/* A real GP 6.24.3 cluster with a standby, and its catalog after each failover (captures 113-141). */

/** Capture 113: coordinator dbid 1 on mdw:5432, standby dbid 10 on smdw:5433, in sync. */
export const withStandby = await catalogCapture('113_config_with_standby.txt');
export const afterActivation = await catalogCapture('129_config_after_activation.txt');
/** Capture 141: after the failback, the coordinator is the second standby, dbid 11 on mdw. */
export const afterFailback = await catalogCapture('141_config_after_failback.txt');
export const row = (dbid: number): SegmentRow => withStandby.find((r) => r.dbid === dbid)!;
export const [coordinator, standby] = [row(1), row(10)];

/** Capture 113's cluster, simulated; FTS marks a mirror down at its first probe. */
export const cluster = (options: SimulationOptionsInput = {}): SimulatedClusterState =>
  createState(withStandby, { mirrorDownGracePeriodSeconds: 0, ...options }, 0);
