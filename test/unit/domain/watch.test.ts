import { describe, expect, it } from 'vitest';
import { InvalidTransition } from '#domain/errors.ts';
import { configurationOf, fold, type ClusterState } from '#domain/evolve.ts';
import { recoveryOptionsSchema, type NewEvent } from '#domain/events.ts';
import { observedDoubleFaults } from '#domain/observation.ts';
import { reconcile } from '#domain/reconcile.ts';
import { decide } from '#domain/rules.ts';
import type { SegmentRow } from '#domain/segment.ts';
import {
  DEFAULT_RECOVERY_POLICY,
  WATCH_PROBE_RULES,
  WATCH_RULES,
  detectionReport,
  doubleFaultNotice,
  isWhole,
  lastKnownWhole,
  lookCounts,
  watchContext,
  watchIncidentId,
  wholeness,
  type Look,
  type RunHolder,
  type WatchContext,
} from '#domain/watch.ts';
import { seedIncidentPhases } from '#test/fixtures/seed.ts';
import { everyRow, pair } from './tables/rows.ts';

const [registration, failure, recovery, rebalance] = seedIncidentPhases();
const T0 = '2024-12-23T12:00:00.000Z';
const T1 = '2024-12-23T12:05:00.000Z';
const seenWhole: NewEvent = { type: 'ClusterSeenWhole', data: {} };
const policy = (p: 'auto' | 'notify' | 'off'): NewEvent => ({
  type: 'RecoveryPolicySet',
  data: { policy: p },
});
const run = (incidentId: string): NewEvent => ({
  type: 'RecoveryRequested',
  data: { incidentId, trigger: { source: 'watch' }, options: recoveryOptionsSchema.parse({}) },
});
const failed = (incidentId: string): NewEvent => ({
  type: 'RecoveryFailed',
  data: { incidentId, phase: 'recover', reason: 'pg_rewind failed' },
});

/** The log of `events`, each appended at `at`. */
const given = (events: NewEvent[], at = T0): ClusterState =>
  fold(events.map((event) => ({ ...event, at })));

/** A look that shows `segments`, with the acting primaries `unresponsive` silent. */
const seeing = (segments: SegmentRow[], unresponsive: number[] = []): Look => ({
  segments,
  unresponsive,
  notReady: [],
  doubleFaults: observedDoubleFaults(segments, unresponsive),
});
const whole = seeing(configurationOf(given(registration)));
/** segment-2 powered off, as FTS writes it: its mirrors down, its primaries failed over. */
const hostDown = seeing(configurationOf(given([...registration, ...failure])));

/** What the watcher decides and records when a look at `before` shows `look`. */
function when(before: ClusterState, look: Look, holder: RunHolder = 'none') {
  const found = reconcile(before, look);
  const after = fold(found, before);
  const { then } = decide(WATCH_RULES, watchContext({ before, after, look, holder }));
  return { then, found: found.map((e) => e.type), after };
}

describe('WATCH_PROBE_RULES', () => {
  everyRow(WATCH_PROBE_RULES, [
    [1, { changed: true, failingOver: [2] }],
    [2, { changed: false, failingOver: [2] }],
    [3, { changed: false, failingOver: [] }],
  ]);
});

describe('WATCH_RULES', () => {
  const context = (over: Partial<WatchContext>): WatchContext => ({
    holder: 'none',
    whole: false,
    wholeOnRecord: false,
    policy: 'auto',
    doubleFaulted: [],
    newDoubleFault: false,
    newFault: true,
    answered: false,
    ...over,
  });
  const faulted = [pair({}, { status: 'd', mode: 'n' })];
  everyRow(WATCH_RULES, [
    [1, context({ holder: 'live', whole: true, newDoubleFault: true })],
    [2, context({ whole: true, policy: 'off' })],
    [2, context({ whole: true, holder: 'gone' })],
    [3, context({ whole: true, wholeOnRecord: true })],
    [4, context({ policy: 'off', newDoubleFault: true, doubleFaulted: faulted })],
    [5, context({ newDoubleFault: true, doubleFaulted: faulted })],
    [5, context({ policy: 'notify', newDoubleFault: true, doubleFaulted: faulted })],
    [6, context({ doubleFaulted: faulted })],
    [7, context({ policy: 'notify' })],
    [8, context({ policy: 'notify', newFault: false })],
    [9, context({ answered: true, newFault: false })],
    [10, context({})],
    [10, context({ newFault: false, holder: 'gone' })],
  ]);
});

describe('the watcher, Given a log, When a look shows the cluster, Then a row decides', () => {
  it('row 1: a live run holds the cluster: nothing is decided for it, nothing recorded', () => {
    expect(
      when(given([...registration, policy('auto'), run('x')]), hostDown, 'live'),
    ).toMatchObject({ then: 'leave-to-run' });
  });

  it('row 2: a whole cluster the log never saw whole: ClusterSeenWhole, with nothing else to record', () => {
    expect(when(given(registration), whole)).toMatchObject({ then: 'seen-whole', found: [] });
  });

  it('row 2: whole again after the seed incident: what changed since, then seen whole', () => {
    const before = given([...registration, seenWhole, ...failure]);
    const { then, found } = when(before, whole);
    expect(then).toBe('seen-whole');
    // Contents 0 and 1 recovered and resynchronized; 2 and 3 also switched back (gprecoverseg -r).
    const resynced = ['SegmentRecovered', 'PairSynchronized'];
    const switchedBack = [...resynced, 'MirrorPromoted', ...resynced];
    expect(found).toEqual([...resynced, ...resynced, ...switchedBack, ...switchedBack]);
  });

  it('row 3: whole, as on record: nothing', () => {
    expect(when(given([...registration, seenWhole]), whole)).toMatchObject({
      then: 'record',
      found: [],
    });
  });

  it('row 4: policy off: the failover is recorded, nothing else', () => {
    expect(when(given([...registration, policy('off'), seenWhole]), hostDown)).toMatchObject({
      then: 'record',
      found: ['SegmentMarkedDown', 'SegmentMarkedDown', 'MirrorPromoted', 'MirrorPromoted'],
    });
  });

  const mirrorDown: NewEvent = { type: 'SegmentMarkedDown', data: { dbid: 7 } };
  const primaryDead = seeing(configurationOf(given([...registration, mirrorDown])), [3]);

  it('row 5: a double fault newly seen under auto: recorded and notified, never started', () => {
    expect(when(given([...registration, policy('auto'), mirrorDown]), primaryDead)).toMatchObject({
      then: 'notify-double-fault',
      found: ['DoubleFaultDetected'],
    });
  });

  it('row 6: a double fault already on record: nothing more', () => {
    const before = given([
      ...registration,
      policy('auto'),
      mirrorDown,
      { type: 'DoubleFaultDetected', data: { content: 1, primaryDbid: 3, mirrorDbid: 7 } },
    ]);
    expect(when(before, primaryDead)).toMatchObject({ then: 'record', found: [] });
  });

  it('row 7: notify, the default: a new failover is notified', () => {
    expect(DEFAULT_RECOVERY_POLICY).toBe('notify');
    expect(when(given([...registration, seenWhole]), hostDown)).toMatchObject({
      then: 'notify',
      found: ['SegmentMarkedDown', 'SegmentMarkedDown', 'MirrorPromoted', 'MirrorPromoted'],
    });
  });

  it('row 8: notify, the failover on record already: nothing more', () => {
    expect(when(given([...registration, seenWhole, ...failure]), hostDown)).toMatchObject({
      then: 'record',
      found: [],
    });
  });

  it('row 9: auto, and a run ended after the last fault: it answered it', () => {
    const before = given([...registration, policy('auto'), ...failure, run('r'), failed('r')]);
    expect(when(before, hostDown)).toMatchObject({ then: 'record', found: [] });
  });

  it('row 10: auto, a new failover: start, as the incident named after the head it records', () => {
    const before = given([...registration, policy('auto'), seenWhole]);
    const { then, after } = when(before, hostDown);
    expect(then).toBe('start');
    expect(watchIncidentId(after)).toBe(`watch-${before.seq + 4}`);
  });

  it('row 10: auto, a failure the log holds but no run answered (its start failed): start again, under the same name', () => {
    const before = given([...registration, policy('auto'), seenWhole, ...failure]);
    const { then, after } = when(before, hostDown);
    expect(then).toBe('start');
    expect(watchIncidentId(after)).toBe(`watch-${before.seq}`);
  });
});

describe('the log keeps what the watcher needs, whoever writes the events', () => {
  it('the first fault after the cluster was seen whole dates when it stopped being whole; seen whole again clears it', () => {
    const broken = fold(
      [...failure, ...recovery].map((e) => ({ ...e, at: T1 })),
      given([...registration, seenWhole]),
    );
    expect(broken.watch).toMatchObject({
      seenWhole: { seq: 2, at: T0 },
      brokenAt: { seq: 3, at: T1 },
      lastFault: { seq: 6, at: T1 },
    });
    const ended = fold(rebalance, broken);
    expect(ended.watch?.runEndedSeq).toBe(ended.seq);
    // gprecoverseg -r's promotions are faults too, and the run that made them answered them.
    expect(ended.watch?.lastFault?.seq).toBeLessThan(ended.watch!.runEndedSeq!);
    const again = fold([{ ...seenWhole, at: T1 }], ended);
    expect(again.watch).toMatchObject({ seenWhole: { seq: again.seq, at: T1 } });
    expect(again.watch?.brokenAt).toBeUndefined();
    expect(wholeness(again)).toEqual({ wholeOnRecord: true, seenWholeAt: T1, wholeUntil: null });
    expect(wholeness(broken)).toEqual({ wholeOnRecord: false, seenWholeAt: T0, wholeUntil: T1 });
  });

  it('a fault before the watcher ever saw the cluster whole dates nothing', () => {
    const state = given([...registration, ...failure]);
    expect(state.watch?.brokenAt).toBeUndefined();
    expect(lastKnownWhole(state, false)).toBeUndefined();
  });

  it('refuses ClusterSeenWhole while the log shows a content down, naming it', () => {
    expect(() => given([...registration, ...failure, seenWhole])).toThrow(
      new InvalidTransition(
        'content 0, 1, 2, 3 is down, not in sync or switched on record; the cluster cannot have been seen whole',
      ),
    );
  });

  it('refuses a recovery policy for a cluster never registered', () => {
    expect(() => given([policy('auto')])).toThrow(/not registered; register it first/);
    expect(given([...registration, policy('off')]).recoveryPolicy).toBe('off');
  });
});

describe('what a look counts and says', () => {
  it('counts down segments, pairs not in sync, switched contents and double faults', () => {
    expect(lookCounts(hostDown)).toEqual({
      segmentsDown: 4,
      pairsNotInSync: 4,
      contentsSwitched: 2,
      doubleFaults: 0,
    });
    expect(isWhole(hostDown)).toBe(false);
    expect(isWhole(whole)).toBe(true);
    expect(isWhole({ ...whole, unresponsive: [2] })).toBe(false);
    expect(isWhole({ ...whole, notReady: [{ dbid: 2, answer: 'mirror-ready' }] })).toBe(false);
  });

  it('is whole until the first fault after it was seen whole', () => {
    const state = given([...registration, seenWhole]);
    expect(lastKnownWhole(state, true)).toBe('now');
    // A primary FTS has not failed over yet: the log still says whole.
    expect(lastKnownWhole(state, false)).toBe('now');
    const broken = fold(
      failure.map((e) => ({ ...e, at: T1 })),
      state,
    );
    expect(lastKnownWhole(broken, false)).toBe(T1);
  });

  it('tells the operator what failed and what to run, by cluster and dbid', () => {
    expect(detectionReport('prod', given(registration), hostDown)).toBe(
      'cluster prod: down: dbid 6 (content 0, segment-2:10500), dbid 7 (content 1, segment-2:10501), dbid 4 (content 2, segment-2:10000), dbid 5 (content 3, segment-2:10001); ' +
        'acting primary off its preferred role: dbid 8 (content 2, segment-1:10500), dbid 9 (content 3, segment-1:10501); ' +
        'its recovery policy is notify, so nothing was started: start a recovery with recoverseg recover --cluster prod (or POST /clusters/prod/recoveries), ' +
        'or let recoverseg start them: PUT /clusters/prod/recovery-policy {"recoveryPolicy":"auto"}',
    );
  });

  it("a double fault's notice says the way out", () => {
    const state = given([
      ...registration,
      { type: 'SegmentMarkedDown', data: { dbid: 7 } },
      { type: 'DoubleFaultDetected', data: { content: 1, primaryDbid: 3, mirrorDbid: 7 } },
    ]);
    expect(doubleFaultNotice('prod', state)).toMatch(
      /^cluster prod: content 1: double fault \(acting primary dbid 3 on segment-1:10001 does not answer, mirror dbid 7 down\); run gpstop -a -M fast, then gpstart -a, then start a recovery again/,
    );
  });
});
