import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario, seedTables } from '#test/fixtures/seed.ts';

const [promoted, synchronized, rebalanced] = seedTables();

/** The seed incident's three tables, verbatim: after promotion, after resync, after rebalance. */
export const SEED_TABLES = { promoted, synchronized, rebalanced } as const;

/** Before the failure (the same as table 3). */
export const seedCluster = (): SegmentRow[] => structuredClone(seedScenario.segments);

export { groupMirroredCluster } from '#test/fixtures/clusters.ts';
