import fc from 'fast-check';
import type { SegmentRow } from '#domain/segment.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';

export type Mirroring = 'group' | 'spread';

export interface TopologySpec {
  hosts: number;
  primariesPerHost: number;
  mirroring: Mirroring;
  standby: boolean;
}

export interface Topology extends TopologySpec {
  segments: SegmentRow[];
  /** Segment hosts (never the coordinator's). */
  hostnames: string[];
}

const row = (r: SegmentRow): SegmentRow => r;

/**
 * A Greenplum cluster as gpinitsystem lays it out: `hosts` segment hosts with
 * `primariesPerHost` primaries each; group mirroring puts every host's mirrors on the next
 * host, spread mirroring puts the mirrors of one host's primaries on different hosts (it
 * needs more hosts than primaries per host, otherwise it falls back to group). One host
 * means mirrors on the same host as their primaries, as a single-node development cluster.
 */
export function buildTopology(spec: TopologySpec): Topology {
  const { hosts, primariesPerHost } = spec;
  const mirroring: Mirroring =
    spec.mirroring === 'spread' && hosts > primariesPerHost ? 'spread' : 'group';
  const contents = hosts * primariesPerHost;
  const host = (i: number) => `sdw${(i % hosts) + 1}`;
  const rows: SegmentRow[] = [
    row({
      dbid: 1,
      content: -1,
      role: 'p',
      preferred_role: 'p',
      mode: 'n',
      status: 'u',
      port: 5432,
      hostname: 'cdw',
      address: 'cdw',
      datadir: '/data/coordinator/gpseg-1',
    }),
  ];
  const mirrorPorts = new Map<string, number>();
  for (let content = 0; content < contents; content++) {
    const h = Math.floor(content / primariesPerHost);
    const slot = content % primariesPerHost;
    const primaryHost = host(h);
    const mirrorHost = mirroring === 'group' ? host(h + 1) : host(h + 1 + slot);
    const mirrorPort = 7000 + (mirrorPorts.get(mirrorHost) ?? 0);
    mirrorPorts.set(mirrorHost, (mirrorPorts.get(mirrorHost) ?? 0) + 1);
    rows.push(
      row({
        dbid: 2 + content,
        content,
        role: 'p',
        preferred_role: 'p',
        mode: 's',
        status: 'u',
        port: 6000 + slot,
        hostname: primaryHost,
        address: primaryHost,
        datadir: `/data/primary/gpseg${content}`,
      }),
      row({
        dbid: 2 + contents + content,
        content,
        role: 'm',
        preferred_role: 'm',
        mode: 's',
        status: 'u',
        port: mirrorPort,
        hostname: mirrorHost,
        address: mirrorHost,
        datadir: `/data/mirror/gpseg${content}`,
      }),
    );
  }
  if (spec.standby)
    rows.push(
      row({
        dbid: 2 + 2 * contents,
        content: -1,
        role: 'm',
        preferred_role: 'm',
        mode: 's',
        status: 'u',
        port: 5432,
        hostname: 'scdw',
        address: 'scdw',
        datadir: '/data/coordinator/gpseg-1',
      }),
    );
  return {
    ...spec,
    mirroring,
    segments: rows,
    hostnames: Array.from({ length: hosts }, (_, i) => host(i)),
  };
}

export const topologySpecArb: fc.Arbitrary<TopologySpec> = fc.record({
  hosts: fc.integer({ min: 1, max: 8 }),
  primariesPerHost: fc.integer({ min: 1, max: 3 }),
  mirroring: fc.constantFrom<Mirroring>('group', 'spread'),
  standby: fc.boolean(),
});

export interface SimulationSpec {
  seed: number;
  /** 0: a failed host powers on again at once (its segments stay stopped); null: only on RestoreHost. */
  hostRestartSeconds: 0 | null;
  /** Picks (mod the number of segments) of dbids whose WAL pg_rewind needs was recycled. */
  incrementalFails: number[];
  /** A content (mod contents) whose mirror replays more than the 10 GB rebalance limit behind. */
  laggingContent: number | undefined;
  /**
   * 0: zero-time mode, every promotion ends as it starts. Otherwise each promotion lasts this
   * many ms of clock time (Greenplum's 5 s, compressed), while everything else stays as good as
   * instant: reads, runs and FTS probes then meet promoted mirrors still answering "mirror
   * ready" (capture 103), after failovers and during rebalances.
   */
  promotionWindowMs: number;
}

export const simulationSpecArb: fc.Arbitrary<SimulationSpec> = fc.record({
  seed: fc.integer(),
  hostRestartSeconds: fc.constantFrom<0 | null>(0, 0, null),
  incrementalFails: fc.array(fc.nat(), { maxLength: 2 }),
  laggingContent: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 9 },
    { arbitrary: fc.nat(), weight: 1 },
  ),
  promotionWindowMs: fc.constantFrom(0, 0, 30, 80),
});

/** Greenplum's promotion (capture 103), the simulator's default `promotionSeconds`. */
const PROMOTION_SECONDS = 5;

/**
 * The `simulation` block: zero-time mode, so every copy, catch-up and promotion ends as it
 * starts; or, with a promotion window, time compressed so that the default 5 s promotion lasts
 * `promotionWindowMs`, with copies and catch-up so fast (and no mirror-down grace period) that
 * only promotions, and gprecoverseg waiting for them, take clock time.
 */
export function simulationOptions(
  topology: Topology,
  spec: SimulationSpec,
): SimulationOptionsInput {
  const segmentDbids = topology.segments.filter((r) => r.content >= 0).map((r) => r.dbid);
  const contents = topology.hosts * topology.primariesPerHost;
  const timing: SimulationOptionsInput =
    spec.promotionWindowMs === 0
      ? { timeScale: 0 }
      : {
          timeScale: (PROMOTION_SECONDS * 1000) / spec.promotionWindowMs,
          promotionSeconds: PROMOTION_SECONDS,
          mirrorDownGracePeriodSeconds: 0,
          walBytesBehind: 0,
          recoveryKbPerSecond: 1e12,
          syncBytesPerSecond: 1e15,
        };
  return {
    seed: spec.seed,
    ...timing,
    hostRestartSeconds: spec.hostRestartSeconds,
    incrementalFailsFor: [
      ...new Set(spec.incrementalFails.map((n) => segmentDbids[n % segmentDbids.length]!)),
    ],
    replayLag:
      spec.laggingContent === undefined
        ? []
        : [{ content: spec.laggingContent % contents, bytes: 20 * 1024 ** 3 }],
  };
}
