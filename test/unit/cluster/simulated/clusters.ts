import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario, seedTables } from '#test/fixtures/seed.ts';

const [promoted, synchronized, rebalanced] = seedTables();

/** The seed incident's three tables, verbatim: after promotion, after resync, after rebalance. */
export const SEED_TABLES = { promoted, synchronized, rebalanced } as const;

/** Before the failure (the same as table 3). */
export const seedCluster = (): SegmentRow[] => structuredClone(seedScenario.segments);

/**
 * A group-mirrored cluster like the seed's, of any size: `hosts` segment hosts with
 * `perHost` primaries each, every host's mirrors on the next host.
 */
export function groupMirroredCluster(hosts: number, perHost: number): SegmentRow[] {
  const rows: SegmentRow[] = [
    {
      dbid: 1,
      content: -1,
      role: 'p',
      preferred_role: 'p',
      mode: 'n',
      status: 'u',
      port: 5432,
      hostname: 'master',
      address: 'master',
      datadir: '/data1/master/gpseg-1',
    },
  ];
  const contents = hosts * perHost;
  for (let content = 0; content < contents; content++) {
    const host = Math.floor(content / perHost);
    const slot = content % perHost;
    const primaryHost = `sdw${host + 1}`;
    const mirrorHost = `sdw${((host + 1) % hosts) + 1}`;
    rows.push(
      {
        dbid: 2 + content,
        content,
        role: 'p',
        preferred_role: 'p',
        mode: 's',
        status: 'u',
        port: 10000 + slot,
        hostname: primaryHost,
        address: primaryHost,
        datadir: `/data1/primary/gpseg${content}`,
      },
      {
        dbid: 2 + contents + content,
        content,
        role: 'm',
        preferred_role: 'm',
        mode: 's',
        status: 'u',
        port: 20000 + slot,
        hostname: mirrorHost,
        address: mirrorHost,
        datadir: `/data1/mirror/gpseg${content}`,
      },
    );
  }
  return rows;
}
