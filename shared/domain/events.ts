import * as z from '#domain/zod.ts';
import {
  contentSchema,
  dbidSchema,
  hostnameSchema,
  segmentLocationSchema,
  segmentRowSchema,
} from '#domain/segment.ts';
import { windowProblem } from '#domain/window.ts';
import { builtOnFirstUse } from '#domain/lazy-schemas.ts';

/**
 * The event vocabulary of one cluster's stream. One schema per event feeds the API, the store
 * and the tests; the fold (`evolve`) gives each its meaning in rows.
 */
export const recoveryTypeSchema = z.enum(['incremental', 'differential', 'full']);
export type RecoveryType = z.infer<typeof recoveryTypeSchema>;

export const incidentIdSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(80),
    z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits, ".", "-", "_", ":"'),
  );
const reasonSchema = z.string().check(z.minLength(1), z.maxLength(2000));
/** Who did it: an operator's name, an IAM principal, `serve`. */
export const actorSchema = z.string().check(z.minLength(1), z.maxLength(200));

/**
 * When `gprecoverseg -r` (which cancels every query in flight) may run: at once, in a
 * maintenance window, once an operator approves, or never (the cluster stays redundant with
 * its roles switched).
 */
export const rebalancePolicySchema = z.enum(['immediate', 'window', 'approval', 'never']);
export type RebalancePolicy = z.infer<typeof rebalancePolicySchema>;

/** A maintenance window such as `Sun 02:00-04:00 UTC`; one that never opens is refused. */
export const maintenanceWindowSchema = z.string().check(
  z.maxLength(100),
  z.superRefine((text, ctx) => {
    const problem = windowProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
);

/** A policy with what it needs: `window` names its window, the others name none. */
export const rebalanceSettingSchema = z.union([
  z.strictObject({ policy: z.literal('window'), window: maintenanceWindowSchema }),
  z.strictObject({ policy: z.enum(['immediate', 'approval', 'never']) }),
]);
export type RebalanceSetting = z.infer<typeof rebalanceSettingSchema>;

/**
 * What the watcher does when it sees a cluster lose redundancy: start a recovery at once
 * (`auto`), tell the operators and start nothing (`notify`), or neither (`off`). A double
 * fault is never started, whatever the policy (see WATCH_RULES).
 */
export const recoveryPolicySchema = z.enum(['auto', 'notify', 'off']);
export type RecoveryPolicy = z.infer<typeof recoveryPolicySchema>;

/** Who asked for a recovery: an operator (api, cli, scenario), an AWS event, or the watcher. */
export const triggerSourceSchema = z.enum(['api', 'alarm', 'ec2', 'cli', 'scenario', 'watch']);

export const recoveryOptionsSchema = z.strictObject({
  /** `auto` lets the policy choose per segment; a forced type is never escalated. */
  type: z._default(z.enum(['auto', 'incremental', 'differential', 'full']), 'auto'),
  /** Failed host -> replacement host, as `gprecoverseg -p`. */
  targetHosts: z._default(z.record(hostnameSchema, hostnameSchema), {}),
  rebalance: z._default(z.boolean(), true),
  /**
   * When to rebalance; absent: the cluster's policy, else `approval` for runs started by an
   * alarm or an EC2 event and `immediate` for the CLI and API (see REBALANCE_POLICY_RULES).
   */
  rebalancePolicy: z.optional(rebalancePolicySchema),
  /** The window of `rebalancePolicy: window` (default: the cluster's). */
  rebalanceWindow: z.optional(maintenanceWindowSchema),
  dryRun: z._default(z.boolean(), false),
  /** Replay lag limit for `gprecoverseg -r --replay-lag` (GB). */
  replayLagGb: z._default(z.number().check(z.positive(), z.maximum(10_000)), 10),
});
export type RecoveryOptions = z.infer<typeof recoveryOptionsSchema>;

/* ---------- The coordinator (content -1): its standby, its loss, its failover ---------- */

/** A WAL location as pg_stat_replication prints it (`0/C000000`: capture 114). */
export const walLocationSchema = z
  .string()
  .check(z.regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/, 'must be a WAL location such as 0/C000000'));

/**
 * The standby's walsender on the coordinator, as pg_stat_replication shows it (capture 114).
 * `absent`: no walsender at all, the only place a dead standby shows (capture 153; the catalog
 * keeps it `u`/`s`: capture 151).
 */
export const standbyReplicationSchema = z.strictObject({
  state: z.enum(['absent', 'startup', 'backup', 'catchup', 'streaming']),
  /** `sync` while every commit waits for the standby's flush. */
  syncState: z.optional(z.enum(['sync', 'async', 'potential', 'quorum'])),
  sentLocation: z.optional(walLocationSchema),
  flushLocation: z.optional(walLocationSchema),
  replayLocation: z.optional(walLocationSchema),
});
export type StandbyReplication = z.infer<typeof standbyReplicationSchema>;

/**
 * What recoverseg does when the coordinator is lost: activate the standby once an operator
 * approves (`approval`, the default), on its own where the old coordinator can be fenced
 * (`auto`), or nothing but record and notify (`off`).
 */
export const coordinatorPolicySchema = z.enum(['approval', 'auto', 'off']);
export type CoordinatorPolicy = z.infer<typeof coordinatorPolicySchema>;

/**
 * How the old coordinator was kept from coming back: its EC2 instance stopped (force), its
 * postmaster stopped over the transport (`pg_ctl stop -m immediate`), or not at all (its host
 * does not answer: only an operator's approval lets an activation go ahead then).
 */
export const fenceMethodSchema = z.enum(['ec2-stop-instances', 'pg-ctl-stop-immediate', 'none']);
export type FenceMethod = z.infer<typeof fenceMethodSchema>;

/** Builders (see eventDataSchemas). */
const coordinatorEventData = {
  /** The cluster's coordinator failover policy and how old an observation of the standby may be. */
  CoordinatorPolicySet: () =>
    z.strictObject({
      policy: coordinatorPolicySchema,
      /** The last observation of the standby must be this recent when the coordinator is lost. */
      maxObservationAgeSeconds: z.int().check(z.minimum(1), z.maximum(3600)),
      /** Where a failover creates a new standby once it has activated the old one (gpinitstandby). */
      newStandby: z.optional(segmentLocationSchema),
    }),
  /** The standby's replication, read on the coordinator; written when it changes. */
  StandbySyncObserved: () =>
    z.strictObject({
      standbyDbid: dbidSchema,
      replication: standbyReplicationSchema,
    }),
  /** The coordinator does not answer (pg_isready "no response", psql refused: captures 121-124). */
  CoordinatorUnreachable: () =>
    z.strictObject({
      coordinatorDbid: dbidSchema,
      detail: z.string().check(z.minLength(1), z.maxLength(500)),
    }),
  /** The coordinator on record answers again before anything was activated. */
  CoordinatorAnswered: () => z.strictObject({ coordinatorDbid: dbidSchema }),
  /**
   * A failover run begins: it found the last observation of the standby streaming and in sync
   * within `maxObservationAgeSeconds` of the loss (StandbySyncObserved seq `observationSeq`).
   */
  CoordinatorFailoverStarted: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      coordinatorDbid: dbidSchema,
      standbyDbid: dbidSchema,
      observationSeq: z.int().check(z.minimum(1)),
      /**
       * The last look that found the standby still as observed (streaming in sync), kept outside
       * the log so that a healthy standby writes nothing look after look (store `standby`).
       */
      confirmedAt: z.optional(z.iso.datetime()),
      maxObservationAgeSeconds: z.int().check(z.minimum(1), z.maximum(3600)),
      trigger: z.strictObject({
        source: triggerSourceSchema,
        detail: z.optional(z.string().check(z.maxLength(500))),
      }),
    }),
  /** No activation: the standby was stale, absent or unobserved; `reason` names the observation. */
  CoordinatorFailoverRefused: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      reason: reasonSchema,
    }),
  /** The activation waits for an operator: `risk` says what going ahead could cost. */
  CoordinatorFailoverAwaitingApproval: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      risk: reasonSchema,
      /** The fence the approval is asked for; `none` asks to go ahead unfenced. */
      fence: fenceMethodSchema,
    }),
  CoordinatorFailoverApproved: () =>
    z.strictObject({ incidentId: incidentIdSchema, by: actorSchema }),
  /**
   * The old coordinator cannot come back (or, `none`, nobody could make sure: approved). Stale
   * socket lock files it left in /tmp were removed only after this (captures 125-128).
   */
  CoordinatorFenced: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      coordinatorDbid: dbidSchema,
      how: fenceMethodSchema,
      detail: z.string().check(z.maxLength(500)),
    }),
  /** gpactivatestandby succeeded: the standby's row is the coordinator, the old row is gone (129). */
  StandbyActivated: () => z.strictObject({ incidentId: incidentIdSchema, dbid: dbidSchema }),
  /** Clients now reach the new coordinator: a Route 53 record UPSERTed, or the user's hook ran. */
  ClientEndpointMoved: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      how: z.enum(['route53', 'hook']),
      endpoint: z.string().check(z.minLength(1), z.maxLength(500)),
      to: hostnameSchema,
    }),
  /** The failover run ended; the cluster runs without a standby until one is initialized. */
  CoordinatorFailoverCompleted: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      outcome: z.enum(['activated', 'not-needed']),
      note: z.optional(reasonSchema),
    }),
  CoordinatorFailoverFailed: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      reason: reasonSchema,
    }),
  /** `gpinitstandby -a -s HOST` added a standby (content -1, m/m/s/u: capture 113). */
  StandbyInitialized: () =>
    z.strictObject({
      dbid: dbidSchema,
      location: segmentLocationSchema,
    }),
  /**
   * gpinitstandby did not create the standby asked for (capture 134: the data directory exists
   * on that host; 157: its parent does not): `reason` is the tool's own words.
   */
  StandbyInitializationFailed: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      location: segmentLocationSchema,
      reason: reasonSchema,
    }),
} as const;

export const planItemSchema = z.strictObject({
  dbid: dbidSchema,
  content: contentSchema,
  sourceDbid: dbidSchema,
  type: recoveryTypeSchema,
  /** Present when the segment is rebuilt elsewhere (always a full recovery). */
  target: z.optional(segmentLocationSchema),
});
export type PlanItem = z.infer<typeof planItemSchema>;

export const phaseSchema = z.enum([
  'start',
  'detect',
  'promote',
  'plan',
  'recover',
  'sync',
  'rebalance',
  'finish',
  'failover',
]);

/** Where a run is, as an operator reads it (`status`, the CLI following a run). */
export const runPhaseSchema = z.enum([
  'detecting',
  'promoting',
  'recovering',
  'synchronizing',
  'awaiting-rebalance',
  'rebalancing',
  'finishing',
]);
export type RunPhase = z.infer<typeof runPhaseSchema>;
export type Phase = z.infer<typeof phaseSchema>;

const timingsSchema = z.strictObject({
  requestedAt: z.iso.datetime(),
  detectedAt: z.optional(z.iso.datetime()),
  promotedAt: z.optional(z.iso.datetime()),
  recoveredAt: z.optional(z.iso.datetime()),
  synchronizedAt: z.optional(z.iso.datetime()),
  rebalancedAt: z.optional(z.iso.datetime()),
  completedAt: z.iso.datetime(),
});

/** A registration that would not fit one item is split into parts appended together. */
export const MAX_SEGMENTS_PER_REGISTRATION_EVENT = 1000;

/**
 * A plan is split into parts of at most this many segments, appended together (parts.ts): a
 * part whose every item rebuilds a mirror elsewhere at the longest host names and data
 * directories the schemas allow still fits one log item (ITEM_BYTES).
 */
export const MAX_SEGMENTS_PER_PLAN_EVENT = 200;
/**
 * The largest plan, as many segments as the step contract's lists of dbids hold: 8,000 mirrors
 * is every other host of a 16,000-segment cluster.
 */
export const MAX_SEGMENTS_PER_PLAN = 10_000;

export const eventDataSchemas = builtOnFirstUse({
  ...coordinatorEventData,
  ClusterRegistered: () =>
    z.strictObject({
      segments: z
        .array(segmentRowSchema)
        .check(z.minLength(1), z.maxLength(MAX_SEGMENTS_PER_REGISTRATION_EVENT)),
      part: z.int().check(z.minimum(1)),
      parts: z.int().check(z.minimum(1), z.maximum(10_000)),
    }),
  /** The cluster's rebalance policy, set at registration or later by an operator. */
  RebalancePolicySet: () => z.strictObject({ setting: rebalanceSettingSchema }),
  /** The cluster's recovery-start policy, set at registration or later by an operator. */
  RecoveryPolicySet: () => z.strictObject({ policy: recoveryPolicySchema }),
  SegmentMarkedDown: () => z.strictObject({ dbid: dbidSchema }),
  MirrorPromoted: () =>
    z.strictObject({
      content: contentSchema,
      promotedDbid: dbidSchema,
      demotedDbid: dbidSchema,
    }),
  DoubleFaultDetected: () =>
    z.strictObject({
      content: contentSchema,
      primaryDbid: dbidSchema,
      mirrorDbid: dbidSchema,
    }),
  /** The content's acting primary answers again (an operator restarted the cluster). */
  DoubleFaultCleared: () =>
    z.strictObject({
      content: contentSchema,
      primaryDbid: dbidSchema,
    }),
  RecoveryRequested: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      trigger: z.strictObject({
        source: triggerSourceSchema,
        detail: z.optional(z.string().check(z.maxLength(500))),
      }),
      options: recoveryOptionsSchema,
      /** The rebalance policy this run follows, decided when it started (absent: before policies). */
      rebalance: z.optional(rebalanceSettingSchema),
    }),
  RecoveryPlanned: () =>
    z
      .strictObject({
        incidentId: incidentIdSchema,
        items: z.array(planItemSchema).check(z.maxLength(MAX_SEGMENTS_PER_PLAN_EVENT)),
        /** Absent: the whole plan is this one event (every plan of up to 200 segments). */
        part: z.optional(z.int().check(z.minimum(1))),
        parts: z.optional(
          z
            .int()
            .check(
              z.minimum(2),
              z.maximum(Math.ceil(MAX_SEGMENTS_PER_PLAN / MAX_SEGMENTS_PER_PLAN_EVENT)),
            ),
        ),
      })
      .check(
        z.refine(
          ({ part, parts }) =>
            part === undefined ? parts === undefined : parts !== undefined && part <= parts,
          'part and parts come together, part at most parts',
        ),
      ),
  SegmentRecoveryStarted: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      dbid: dbidSchema,
      type: recoveryTypeSchema,
    }),
  SegmentRecovered: () =>
    z.strictObject({
      dbid: dbidSchema,
      relocatedTo: z.optional(segmentLocationSchema),
    }),
  /**
   * gprecoverseg -p moved a failed mirror in the catalog, and it did not come up there (the
   * copy was made, the start failed; or its new host died): it is down at its new location.
   */
  SegmentRelocated: () => z.strictObject({ dbid: dbidSchema, to: segmentLocationSchema }),
  SegmentRecoveryFailed: () =>
    z.strictObject({
      dbid: dbidSchema,
      type: recoveryTypeSchema,
      reason: reasonSchema,
    }),
  PairSynchronized: () => z.strictObject({ content: contentSchema }),
  /**
   * A step could not read what the cluster answered (a pg_isready status, a catalog line, a
   * gprecoverseg message it does not know): kept raw, and the step is retried. It says
   * nothing about the cluster's health.
   */
  ClusterAnswerUnreadable: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      /** The command, e.g. `read gp_segment_configuration`. */
      what: z.string().check(z.minLength(1), z.maxLength(200)),
      problem: reasonSchema,
      /** The line that could not be read and the first lines of the answer, verbatim. */
      text: z.string().check(z.maxLength(4000)),
    }),
  /** This incident's run saw every pair up, in sync and streaming again (redundant again). */
  ClusterRedundant: () => z.strictObject({ incidentId: incidentIdSchema }),
  /**
   * This incident's `gprecoverseg -r` ended and the run saw every pair in its preferred role,
   * in sync and streaming (rebalanced).
   */
  ClusterRebalanced: () => z.strictObject({ incidentId: incidentIdSchema }),
  /** Every pair is in sync again; `gprecoverseg -r` waits for an operator or a window. */
  RebalanceAwaitingApproval: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      setting: rebalanceSettingSchema,
      /** Until when the run waits; then it ends redundant and unbalanced. */
      until: z.iso.datetime(),
    }),
  RebalanceApproved: () => z.strictObject({ incidentId: incidentIdSchema, by: actorSchema }),
  RecoveryCompleted: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      /**
       * `recovered`; `planned` for a dry run; `nothing-to-do` when every segment was up;
       * `unbalanced` when every pair is in sync but the roles stay switched (no approval or
       * window came in time).
       */
      outcome: z._default(
        z.enum(['recovered', 'planned', 'nothing-to-do', 'unbalanced']),
        'recovered',
      ),
      /** Why it ended as it did, when that is not obvious (an unbalanced end). */
      note: z.optional(reasonSchema),
      timings: timingsSchema,
    }),
  RecoveryFailed: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      phase: phaseSchema,
      reason: reasonSchema,
    }),
  /** An operator stopped the run; a gprecoverseg it started is never killed. */
  RecoveryCancelled: () =>
    z.strictObject({
      incidentId: incidentIdSchema,
      by: actorSchema,
      reason: reasonSchema,
      /** What is known of a gprecoverseg still running on the coordinator. */
      gprecoverseg: z.optional(z.string().check(z.maxLength(2000))),
    }),
  /**
   * The watcher saw every segment up, every pair in sync in its preferred roles and every
   * acting primary answering, where the log last said otherwise (or nothing): written when
   * that changes, never once per look. The event's `at` is when the cluster was whole again.
   */
  ClusterSeenWhole: () => z.strictObject({}),
});

export type EventType = keyof typeof eventDataSchemas;
export type CoordinatorEventType = keyof typeof coordinatorEventData;
export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

/** What wrote an event: the workflow execution and state, an API caller, the CLI. */
export const causationSchema = z.strictObject({
  executionId: z.optional(z.string().check(z.maxLength(2048))),
  state: z.optional(z.string().check(z.maxLength(80))),
  actor: z.optional(z.string().check(z.maxLength(200))),
});
export type Causation = z.infer<typeof causationSchema>;

export const clusterIdSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(64),
    z.regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'must be letters, digits, "-", "_"'),
  );

const variantOf = <T extends EventType>(type: T) =>
  z.strictObject({ type: z.literal(type), data: z.lazy(() => eventDataSchemas[type]) });
type Variant = ReturnType<typeof variantOf<EventType>>;

/**
 * An event before it is appended: the store assigns `seq`, `at` and the idempotency key. Built
 * when first parsed, each type's `data` when an event of that type is (see builtOnFirstUse).
 */
export const newEventSchema = z.lazy(() =>
  z.discriminatedUnion('type', EVENT_TYPES.map(variantOf) as unknown as [Variant, ...Variant[]]),
);

export type NewEvent = {
  [T in EventType]: { type: T; data: EventData<T> };
}[EventType];

export type RecordedEvent = NewEvent & {
  clusterId: string;
  seq: number;
  at: string;
  idempotencyKey: string;
  causation: Causation;
};

/** Built when first parsed: only the projection reads the log through it. */
export const recordedEventSchema = z.lazy(() =>
  z.intersection(
    z.object({
      clusterId: clusterIdSchema,
      seq: z.int().check(z.minimum(1)),
      at: z.iso.datetime(),
      idempotencyKey: z.string().check(z.minLength(1), z.maxLength(512)),
      causation: causationSchema,
    }),
    newEventSchema,
  ),
);

export type EventOf<T extends EventType> = Extract<RecordedEvent, { type: T }>;
