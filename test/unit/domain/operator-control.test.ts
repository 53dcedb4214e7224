import { describe, expect, it } from 'vitest';
import {
  REBALANCE_POLICY_RULES,
  RUN_PHASE_RULES,
  RebalanceWindowMissing,
  SYNC_RULES,
  decideAfterSyncCheck,
  rebalanceSettingFor,
  runPhase,
  type RebalanceGate,
  type RebalancePolicyContext,
  type RunPhaseContext,
  type SyncContext,
} from '#domain/decisions.ts';
import { InvalidTransition } from '#domain/errors.ts';
import { configurationOf, fold, type ClusterState } from '#domain/evolve.ts';
import { eventDataSchemas, type NewEvent } from '#domain/events.ts';
import { registrationEvents } from '#domain/registration.ts';
import { pairsOf, type SegmentRow } from '#domain/segment.ts';
import { isWindowOpen, nextOpening, parseWindow, windowProblem } from '#domain/window.ts';
import { seedScenario } from '#test/fixtures/seed.ts';

const segments = seedScenario.segments as SegmentRow[];

describe('maintenance windows', () => {
  it.each([
    ['Sun 02:00-04:00 UTC', { days: [0], startMinute: 120, lengthMinutes: 120 }],
    ['Sat,Sun 01:00-05:00 UTC', { days: [0, 6], startMinute: 60, lengthMinutes: 240 }],
    ['Mon-Fri 22:00-02:00 UTC', { days: [1, 2, 3, 4, 5], startMinute: 1320, lengthMinutes: 240 }],
    ['Fri-Mon 00:00-24:00 UTC', { days: [0, 1, 5, 6], startMinute: 0, lengthMinutes: 1440 }],
    ['daily 03:00-03:01 UTC', { days: [0, 1, 2, 3, 4, 5, 6], startMinute: 180, lengthMinutes: 1 }],
  ])('reads %s', (text, window) => {
    expect(parseWindow(text)).toEqual(window);
  });

  it.each([
    ['Sun 02:00-02:00 UTC', /opens and closes at the same minute, so it never opens/],
    ['Sun 00:00-00:00 UTC', /never opens/],
    ['Sun 02:00-04:00', /expected DAYS HH:MM-HH:MM UTC/],
    ['Sun 2:00-4:00 UTC', /expected DAYS HH:MM-HH:MM UTC/],
    ['Funday 02:00-04:00 UTC', /Funday is not a day/],
    ['Sun 25:00-04:00 UTC', /25:00 is not a time of day/],
    ['Sun 24:00-04:00 UTC', /24:00 is not a time of day/],
    ['Sun 02:60-04:00 UTC', /02:60 is not a time of day/],
    ['Mon-Tue-Wed 02:00-04:00 UTC', /day range/],
    ['', /expected DAYS/],
  ])('refuses %j', (text, message) => {
    expect(windowProblem(text)).toMatch(message);
  });

  it('knows when it is open, across midnight and across the week', () => {
    const w = parseWindow('Sun 23:00-01:00 UTC');
    const t = (iso: string) => Date.parse(iso);
    expect(isWindowOpen(w, t('2024-12-22T23:30:00Z'))).toBe(true); // Sunday
    expect(isWindowOpen(w, t('2024-12-23T00:59:00Z'))).toBe(true); // Monday, still open
    expect(isWindowOpen(w, t('2024-12-23T01:00:00Z'))).toBe(false);
    expect(nextOpening(w, t('2024-12-23T01:00:00Z'))).toEqual({
      opens: t('2024-12-29T23:00:00Z'),
      closes: t('2024-12-30T01:00:00Z'),
    });
    expect(nextOpening(w, t('2024-12-22T23:30:00Z')).opens).toBe(t('2024-12-22T23:00:00Z'));
    // Every weekday lines up with the calendar.
    for (const [i, day] of ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].entries())
      expect(
        isWindowOpen(parseWindow(`${day} 00:00-24:00 UTC`), t(`2024-12-${22 + i}T12:00:00Z`)),
      ).toBe(true);
  });
});

describe('REBALANCE_POLICY_RULES: which policy a run follows', () => {
  const context = (over: Partial<RebalancePolicyContext> = {}) => ({
    options: { rebalance: true, rebalancePolicy: undefined, rebalanceWindow: undefined },
    cluster: undefined,
    trigger: 'cli' as const,
    ...over,
  });
  const window = { policy: 'window' as const, window: 'Sun 02:00-04:00 UTC' };

  it.each<[string, object, object]>([
    [
      'no rebalance asked: never, whatever else',
      {
        options: { rebalance: false, rebalancePolicy: 'immediate' },
        cluster: window,
        trigger: 'alarm',
      },
      { policy: 'never' },
    ],
    [
      'the request names a policy',
      { options: { rebalance: true, rebalancePolicy: 'approval' }, cluster: window },
      { policy: 'approval' },
    ],
    [
      'a requested window without its own text takes the cluster window',
      { options: { rebalance: true, rebalancePolicy: 'window' }, cluster: window },
      window,
    ],
    [
      "the request's window wins",
      {
        options: {
          rebalance: true,
          rebalancePolicy: 'window',
          rebalanceWindow: 'daily 01:00-02:00 UTC',
        },
      },
      { policy: 'window', window: 'daily 01:00-02:00 UTC' },
    ],
    ['the cluster policy', { cluster: window, trigger: 'alarm' }, window],
    ['an alarm with no policy anywhere: approval', { trigger: 'alarm' }, { policy: 'approval' }],
    ['an EC2 event: approval', { trigger: 'ec2' }, { policy: 'approval' }],
    ['the CLI: immediate', { trigger: 'cli' }, { policy: 'immediate' }],
    ['the API: immediate', { trigger: 'api' }, { policy: 'immediate' }],
    ['a scenario: immediate', { trigger: 'scenario' }, { policy: 'immediate' }],
  ])('%s', (_name, over, setting) => {
    expect(rebalanceSettingFor(context(over as never) as never).setting).toEqual(setting);
  });

  it('refuses a window policy with no window anywhere', () => {
    expect(() =>
      rebalanceSettingFor(
        context({ options: { rebalance: true, rebalancePolicy: 'window' } }) as never,
      ),
    ).toThrow(RebalanceWindowMissing);
  });

  it('every row is reached by some case above', () => {
    expect(REBALANCE_POLICY_RULES).toHaveLength(5);
  });
});

describe('SYNC_RULES: the rebalance gate once every pair is in sync', () => {
  // The seed after recovery: every pair in sync and streaming, contents 2 and 3 switched.
  const switched = segments.map((r) =>
    r.content >= 2 && r.content <= 3
      ? { ...r, role: r.role === 'p' ? 'm' : 'p', mode: 's' }
      : { ...r, mode: r.content < 0 ? r.mode : 's' },
  ) as SegmentRow[];
  const context = (gate: Partial<RebalanceGate>): SyncContext => ({
    pairs: pairsOf(switched),
    streaming: [0, 1, 2, 3],
    notReady: [],
    doubleFaulted: [],
    rebalanceRequested: true,
    rebalanceDone: false,
    maxReplayLagBytes: 0,
    replayLagLimitBytes: 10 * 1024 ** 3,
    plans: 1,
    rebalance: {
      policy: 'approval',
      approved: false,
      windowOpen: false,
      waitedTooLong: false,
      ...gate,
    },
    outOfTime: false,
  });
  const decision = (gate: Partial<RebalanceGate>) => decideAfterSyncCheck(context(gate));

  it.each<[Partial<RebalanceGate>, string, string]>([
    [{ policy: 'never' }, 'finish', 'policy never'],
    [{ policy: 'immediate' }, 'rebalance', 'immediate'],
    [{ policy: 'approval', approved: true }, 'rebalance', 'approved'],
    [{ policy: 'window', approved: true }, 'rebalance', 'approved'],
    [{ policy: 'window', windowOpen: true }, 'rebalance', 'window is open'],
    [{ policy: 'window', waitedTooLong: true }, 'unbalanced', 'in time'],
    [{ policy: 'approval', waitedTooLong: true }, 'unbalanced', 'in time'],
    [{ policy: 'approval' }, 'await-rebalance', 'redundant'],
    [{ policy: 'window' }, 'await-rebalance', 'redundant'],
  ])('%j: %s', (gate, then, rule) => {
    const { then: got, rule: why } = decision(gate);
    expect(got).toBe(then);
    expect(why).toContain(rule);
  });

  it('a replay lag over the limit waits before any gate row', () => {
    expect(
      decideAfterSyncCheck({ ...context({ approved: true }), maxReplayLagBytes: 11 * 1024 ** 3 })
        .then,
    ).toBe('wait');
  });

  it('the last rows are the gate, in this order', () => {
    expect(SYNC_RULES.slice(-5).map((r) => r.then)).toEqual([
      'rebalance',
      'rebalance',
      'rebalance',
      'unbalanced',
      'await-rebalance',
    ]);
  });
});

describe('operator events in the fold', () => {
  const base = (): NewEvent[] => [
    ...registrationEvents(segments),
    {
      type: 'RecoveryRequested',
      data: {
        incidentId: 'i1',
        trigger: { source: 'alarm' },
        options: eventDataSchemas.RecoveryRequested.shape.options.parse({}),
        rebalance: { policy: 'approval' },
      },
    },
  ];
  const promote = (content: number, promoted: number, demoted: number): NewEvent[] => [
    { type: 'MirrorPromoted', data: { content, promotedDbid: promoted, demotedDbid: demoted } },
  ];

  it('keeps the cluster policy and the run policy', () => {
    const state = fold([
      ...registrationEvents(segments),
      { type: 'RebalancePolicySet', data: { setting: { policy: 'never' } } },
    ]);
    expect(state.rebalancePolicy).toEqual({ policy: 'never' });
    expect(fold(base()).recovery?.rebalance).toEqual({ policy: 'approval' });
  });

  it('refuses a policy before registration', () => {
    expect(() =>
      fold([{ type: 'RebalancePolicySet', data: { setting: { policy: 'never' } } }]),
    ).toThrow(new InvalidTransition('the cluster is not registered; register it first'));
  });

  it('awaits a rebalance only when roles are switched, approves once, cancels the run', () => {
    const awaiting: NewEvent = {
      type: 'RebalanceAwaitingApproval',
      data: {
        incidentId: 'i1',
        setting: { policy: 'approval' },
        until: '2024-12-25T12:00:00.000Z',
      },
    };
    expect(() => fold([...base(), awaiting])).toThrow(/no rebalance to wait for/);
    // FTS promotes content 3's mirror: a pair with switched roles.
    const pair3 = pairsOf(configurationOf(fold(base()))).find((p) => p.content === 3)!;
    const events = [...base(), ...promote(3, pair3.mirror!.dbid, pair3.primary.dbid), awaiting];
    const waiting = fold(events);
    expect(waiting.recovery?.awaitingRebalance?.until).toBe('2024-12-25T12:00:00.000Z');
    expect(runPhaseOf(waiting)).toBe('detecting');
    const approved = fold(
      [{ type: 'RebalanceApproved', data: { incidentId: 'i1', by: 'dba' } }],
      waiting,
    );
    expect(approved.recovery?.approved?.by).toBe('dba');
    expect(() =>
      fold([{ type: 'RebalanceApproved', data: { incidentId: 'i1', by: 'dba2' } }], approved),
    ).toThrow(/already approved by dba/);
    expect(() =>
      fold([{ type: 'RebalanceApproved', data: { incidentId: 'other', by: 'dba' } }], approved),
    ).toThrow(/incident other is not the recovery in progress/);
    const cancelled = fold(
      [{ type: 'RecoveryCancelled', data: { incidentId: 'i1', by: 'dba', reason: 'maintenance' } }],
      approved,
    );
    expect(cancelled.recovery).toBeUndefined();
    expect(cancelled.lastIncident).toMatchObject({
      incidentId: 'i1',
      status: 'cancelled',
      by: 'dba',
      reason: 'maintenance',
    });
    expect(() =>
      fold(
        [{ type: 'RecoveryCancelled', data: { incidentId: 'i1', by: 'dba', reason: 'again' } }],
        cancelled,
      ),
    ).toThrow(/no recovery is in progress/);
  });
});

const runPhaseOf = (state: ClusterState) => runPhase(state);

describe('RUN_PHASE_RULES: where a run is, in words', () => {
  const context = (over: Partial<RunPhaseContext>): RunPhaseContext => ({
    planned: true,
    recovering: 0,
    unsynchronized: 0,
    switched: 0,
    awaitingRebalance: false,
    approved: false,
    ...over,
  });
  it.each<[Partial<RunPhaseContext>, string]>([
    [{ awaitingRebalance: true, switched: 2 }, 'awaiting-rebalance'],
    [{ awaitingRebalance: true, approved: true, switched: 2 }, 'rebalancing'],
    [{ planned: false, unsynchronized: 2 }, 'detecting'],
    [{ recovering: 2, unsynchronized: 2 }, 'recovering'],
    [{ unsynchronized: 2 }, 'synchronizing'],
    [{ switched: 2 }, 'rebalancing'],
    [{}, 'finishing'],
  ])('%j: %s', (over, phase) => {
    expect(RUN_PHASE_RULES.find((r) => r.when(context(over)))?.then).toBe(phase);
  });

  it('has no phase without a recovery', () => {
    expect(runPhase(fold(registrationEvents(segments)))).toBeUndefined();
  });
});
