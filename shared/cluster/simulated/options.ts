import * as z from '#domain/zod.ts';
import { contentSchema, dbidSchema } from '#domain/segment.ts';

/**
 * How the simulated cluster behaves: the `simulation` block of a scenario file. Rates and
 * sizes are in simulated time; `timeScale` maps clock time onto it, so a demo can compress a
 * full recovery of hours into seconds and a test into nothing. Built when first parsed: a
 * deployed Task drives a real cluster and never needs it.
 */
export const simulationOptionsSchema = z.lazy(() =>
  z.strictObject({
    /** Seeds the PRNG that varies segment sizes: same seed, same calls, same times, same cluster. */
    seed: z._default(z.int(), 1),
    /** How far behind its acting primary a mirror starts after a recovery (bytes of WAL). */
    walBytesBehind: z._default(z.int().check(z.minimum(0)), 1_048_576),
    /** WAL catch-up rate of a streaming mirror. */
    syncBytesPerSecond: z._default(z.number().check(z.positive()), 1_048_576),
    /** dbids whose WAL `pg_rewind` needs was recycled: incremental recovery fails until a copy rebuilds them. */
    incrementalFailsFor: z._default(z.array(dbidSchema), []),
    /** Copy rate of one segment's recovery; segments of one run copy in parallel. */
    recoveryKbPerSecond: z._default(z.number().check(z.positive()), 100_000),
    /** A segment's data directory size, what `pg_basebackup` copies (the seed's progress line shows 1371715 kB). */
    segmentSizeKb: z._default(z.int().check(z.positive()), 1_371_715),
    /** Each recovery's size varies by up to this fraction either way, drawn from the seeded PRNG. */
    segmentSizeJitter: z._default(z.number().check(z.minimum(0), z.maximum(0.9)), 0.2),
    /** Share of the data directory `pg_rewind` copies (only blocks changed since the divergence). */
    incrementalFraction: z._default(z.number().check(z.positive(), z.maximum(1)), 0.05),
    /** Share of the data directory rsync transfers in a differential recovery. */
    differentialFraction: z._default(z.number().check(z.positive(), z.maximum(1)), 0.25),
    /**
     * Simulated seconds until a failed host is powered on again (its segments stay stopped, as
     * Greenplum does not start them at boot). `null`: down until restored explicitly.
     */
    hostRestartSeconds: z._default(z.nullable(z.number().check(z.minimum(0))), 0),
    /** Mirror replay lag per content (bytes received but not replayed): what `--replay-lag` checks. */
    replayLag: z._default(
      z.array(z.strictObject({ content: contentSchema, bytes: z.int().check(z.minimum(0)) })),
      [],
    ),
    /**
     * `gp_fts_mark_mirror_down_grace_period`: simulated seconds FTS keeps a mirror it cannot
     * reach marked up (its pair still `s`), counted from the probe that first found it gone
     * (real captures 22-30 and 51*: the mirrors of a dead host stayed `u` for 30 s).
     */
    mirrorDownGracePeriodSeconds: z._default(z.number().check(z.minimum(0)), 30),
    /**
     * Simulated seconds a mirror FTS has just marked acting primary takes to finish its promotion
     * (capture 103: about 5 s). Until then the catalog already shows it `p`, but it answers
     * pg_isready "mirror ready" (exit 64), has no walsender, and gprecoverseg cannot copy from it.
     * A rebalance's promotions take as long.
     */
    promotionSeconds: z._default(z.number().check(z.minimum(0)), 5),
    /** Simulated seconds per clock second; 0 is zero-time mode: every copy, catch-up and promotion finishes as it starts. */
    timeScale: z._default(z.number().check(z.minimum(0)), 1),
  }),
);

export type SimulationOptions = z.infer<typeof simulationOptionsSchema>;
export type SimulationOptionsInput = z.input<typeof simulationOptionsSchema>;
