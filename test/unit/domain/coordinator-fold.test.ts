import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidTransition } from '#domain/errors.ts';
import { configurationOf, fold, type ClusterState, type FoldableEvent } from '#domain/evolve.ts';
import type { NewEvent, StandbyReplication } from '#domain/events.ts';
import { configurationProblems } from '#domain/invariants.ts';
import { registrationEvents } from '#domain/registration.ts';
import { projectedOf, summaryItem } from '#store/configuration-items.ts';
import { reconcile } from '#domain/reconcile.ts';
import { sortRows, type SegmentRow } from '#domain/segment.ts';
import { catalogCapture } from '#test/unit/cluster/greenplum/captures.ts';

/*
 * The coordinator's events through the fold, Given (the log so far) / When (one event) / Then
 * (the projection, or the refusal naming the cluster object), against real GP 6.24.3 catalogs:
 * 113 (a standby, dbid 10 on smdw:5433), 129 (after gpactivatestandby), 141 (after failing back).
 */

const at = (second: number) => new Date(Date.UTC(2026, 11, 3, 8, 11, second)).toISOString();
const on = (event: NewEvent, second: number): FoldableEvent => ({ ...event, at: at(second) });

const inSync: StandbyReplication = {
  state: 'streaming',
  syncState: 'sync',
  sentLocation: '0/C000000',
  flushLocation: '0/C000000',
  replayLocation: '0/C000000',
};

let withStandby: SegmentRow[];
let afterActivation: SegmentRow[];
let afterFailback: SegmentRow[];
beforeAll(async () => {
  withStandby = await catalogCapture('113_config_with_standby.txt');
  afterActivation = await catalogCapture('129_config_after_activation.txt');
  afterFailback = await catalogCapture('141_config_after_failback.txt');
});

const registered = () => registrationEvents(withStandby).map((e) => on(e, 0));
const observed = (second: number, replication = inSync, standbyDbid = 10) =>
  on({ type: 'StandbySyncObserved', data: { standbyDbid, replication } }, second);
const unreachable = (second: number, coordinatorDbid = 1) =>
  on(
    {
      type: 'CoordinatorUnreachable',
      data: { coordinatorDbid, detail: 'pg_isready mdw:5432: no response' },
    },
    second,
  );
const started = (observationSeq: number, second = 27, from = 1, to = 10) =>
  on(
    {
      type: 'CoordinatorFailoverStarted',
      data: {
        incidentId: 'coord-1',
        coordinatorDbid: from,
        standbyDbid: to,
        observationSeq,
        maxObservationAgeSeconds: 60,
        trigger: { source: 'watch' },
      },
    },
    second,
  );
const fenced = (how: 'pg-ctl-stop-immediate' | 'none' = 'pg-ctl-stop-immediate', dbid = 1) =>
  on(
    {
      type: 'CoordinatorFenced',
      data: { incidentId: 'coord-1', coordinatorDbid: dbid, how, detail: 'pg_ctl stop' },
    },
    28,
  );
const activated = (dbid = 10) =>
  on({ type: 'StandbyActivated', data: { incidentId: 'coord-1', dbid } }, 36);

/** The log up to the coordinator's loss, the observation 11 s before it (seq = registration + 1). */
function lost(replication = inSync, observedAt = 15): { events: FoldableEvent[]; seq: number } {
  const events = [...registered(), observed(observedAt, replication), unreachable(26)];
  return { events, seq: events.length - 1 };
}

const refusal = (events: FoldableEvent[], last: FoldableEvent) => {
  const before = fold(events);
  return () => fold([last], before);
};

describe('coordinator failover through the fold', () => {
  it('Given a synced standby observed 11 s before the loss, When fenced and activated, Then the catalog is capture 129', () => {
    const { events, seq } = lost();
    const state = fold([...events, started(seq), fenced(), activated()]);
    expect(configurationOf(state)).toEqual(sortRows(afterActivation));
    expect(configurationProblems(configurationOf(state))).toEqual([]);
    expect(state.coordinator?.unreachable).toBeUndefined();
    expect(state.coordinator?.standby).toBeUndefined();
    expect(state.coordinator?.failover?.activated?.at).toBe(at(36));
  });

  it('Given the old host made the standby (dbid 11) and synced, When it is activated in turn, Then the catalog is capture 141', () => {
    const { events, seq } = lost();
    const first = fold([
      ...events,
      started(seq),
      fenced(),
      activated(),
      on(
        {
          type: 'CoordinatorFailoverCompleted',
          data: { incidentId: 'coord-1', outcome: 'activated' },
        },
        37,
      ),
      on(
        {
          type: 'StandbyInitialized',
          data: {
            dbid: 11,
            location: {
              hostname: 'mdw',
              address: 'mdw',
              port: 5432,
              datadir: '/data1/gpdb/master/gpseg-1',
            },
          },
        },
        52,
      ),
    ]);
    expect(first.segments.get(11)).toMatchObject({
      content: -1,
      role: 'm',
      mode: 's',
      status: 'u',
    });
    const next = (e: NewEvent, second: number) =>
      on({ ...e, data: { ...e.data, incidentId: 'coord-2' } } as NewEvent, second);
    const back = fold(
      [
        observed(52, inSync, 11),
        unreachable(54, 10),
        next(started(first.seq + 1, 55, 10, 11), 55),
        next(fenced('pg-ctl-stop-immediate', 10), 56),
        next(activated(11), 60),
      ],
      first,
    );
    expect(configurationOf(back)).toEqual(sortRows(afterFailback));
  });

  it('Given an operator approved going ahead without a fence, When fenced as none and activated, Then the activation stands', () => {
    const { events, seq } = lost();
    const waiting = on(
      {
        type: 'CoordinatorFailoverAwaitingApproval',
        data: { incidentId: 'coord-1', risk: 'no fence', fence: 'none' },
      },
      28,
    );
    const approved = on(
      { type: 'CoordinatorFailoverApproved', data: { incidentId: 'coord-1', by: 'dba' } },
      29,
    );
    const state = fold([...events, started(seq), waiting, approved, fenced('none'), activated()]);
    expect(state.segments.get(10)?.role).toBe('p');
    expect(state.segments.has(1)).toBe(false);
  });

  it('Given an observation 300 s before the loss but a look confirming it 20 s before, When started with that confirmation, Then the failover starts', () => {
    const events = [...registered(), observed(0), unreachable(300 - 60 + 59)];
    const state = fold([
      ...events,
      on(
        {
          type: 'CoordinatorFailoverStarted',
          data: {
            incidentId: 'coord-1',
            coordinatorDbid: 1,
            standbyDbid: 10,
            observationSeq: events.length - 1,
            confirmedAt: at(279),
            maxObservationAgeSeconds: 60,
            trigger: { source: 'watch' },
          },
        },
        300,
      ),
    ]);
    expect(state.coordinator?.failover?.incidentId).toBe('coord-1');
  });

  it('Given an approval asked for a fence, When the fence is no longer possible and a new approval is asked, Then the first approval no longer counts', () => {
    const { events, seq } = lost();
    const ask = (fence: 'pg-ctl-stop-immediate' | 'none', second: number) =>
      on(
        {
          type: 'CoordinatorFailoverAwaitingApproval',
          data: { incidentId: 'coord-1', risk: `fence ${fence}`, fence },
        },
        second,
      );
    const approve = (second: number) =>
      on(
        { type: 'CoordinatorFailoverApproved', data: { incidentId: 'coord-1', by: 'dba' } },
        second,
      );
    const asked = fold([...events, started(seq), ask('pg-ctl-stop-immediate', 28), approve(29)]);
    expect(() => fold([fenced('none')], asked)).toThrow(
      /no operator approved going ahead without one/,
    );
    const again = fold([ask('none', 31)], asked);
    expect(again.coordinator?.failover?.approved).toBeUndefined();
    expect(() => fold([fenced('none')], again)).toThrow(InvalidTransition);
    expect(fold([approve(32), fenced('none'), activated()], again).segments.get(10)?.role).toBe(
      'p',
    );
  });

  it("Given recoverseg's own failback on the real cluster (session 7), Then the log's catalog is capture 162", async () => {
    // After the first failover (capture 129), recoverseg's gpinitstandby made dbid 11 on mdw.
    const registered = fold(registrationEvents(afterActivation).map((e) => on(e, 0)));
    const dbid11: SegmentRow = {
      dbid: 11,
      content: -1,
      role: 'm',
      preferred_role: 'm',
      mode: 's',
      status: 'u',
      port: 5432,
      hostname: 'mdw',
      address: 'mdw',
      datadir: '/data1/gpdb/master2/gpseg-1',
    };
    const initialized = reconcile(registered, {
      segments: [...afterActivation, dbid11],
      doubleFaults: [],
    });
    const withStandby11 = fold(
      initialized.map((e) => on(e, 4)),
      registered,
    );
    const failback = fold(
      [
        observed(9, inSync, 11),
        unreachable(69, 10),
        on(
          {
            type: 'CoordinatorFailoverStarted',
            data: {
              incidentId: 'watch-7',
              coordinatorDbid: 10,
              standbyDbid: 11,
              observationSeq: withStandby11.seq + 1,
              confirmedAt: at(59),
              maxObservationAgeSeconds: 60,
              trigger: { source: 'watch' },
            },
          },
          80,
        ),
        on(
          {
            type: 'CoordinatorFenced',
            data: {
              incidentId: 'watch-7',
              coordinatorDbid: 10,
              how: 'pg-ctl-stop-immediate',
              detail:
                'no postmaster ran on smdw; removed /tmp/.s.PGSQL.5433, /tmp/.s.PGSQL.5433.lock',
            },
          },
          80,
        ),
        on({ type: 'StandbyActivated', data: { incidentId: 'watch-7', dbid: 11 } }, 81),
      ],
      withStandby11,
    );
    expect(configurationOf(failback)).toEqual(
      sortRows(await catalogCapture('162_config_after_recoverseg_failback.txt')),
    );
  });

  it('Given a failover half way, When the projection keeps the state and folds the rest onto it, Then it is the fold of the whole log', () => {
    const { events, seq } = lost();
    const half = fold([...events, started(seq), fenced()]);
    const kept = projectedOf([
      summaryItem('c', half),
      ...[...half.segments.values()].map((r) => ({ clusterId: 'c', ...r })),
    ]).state;
    expect(kept.coordinator).toEqual(JSON.parse(JSON.stringify(half.coordinator)));
    expect(configurationOf(fold([activated()], kept))).toEqual(
      configurationOf(fold([activated()], half)),
    );
  });

  it('Given a refusal on record, Then the failover ends refused and the coordinator stays lost on record', () => {
    const { events } = lost();
    const state = fold([
      ...events,
      on(
        { type: 'CoordinatorFailoverRefused', data: { incidentId: 'coord-1', reason: 'stale' } },
        27,
      ),
    ]);
    expect(state.coordinator?.lastFailover).toMatchObject({ status: 'refused', reason: 'stale' });
    expect(state.coordinator?.unreachable?.coordinatorDbid).toBe(1);
    expect(state.segments.get(1)?.role).toBe('p');
  });
});

describe('a standby added after registration (gpinitstandby, capture 111)', () => {
  it('Given a cluster registered without a standby, When a look sees capture 113, Then reconcile records StandbyInitialized and the log shows dbid 10', () => {
    const before = fold(
      registrationEvents(withStandby.filter((r) => r.dbid !== 10)).map((e) => on(e, 0)),
    );
    const events = reconcile(before, { segments: withStandby, doubleFaults: [] });
    expect(events).toEqual([
      {
        type: 'StandbyInitialized',
        data: {
          dbid: 10,
          location: { hostname: 'smdw', address: 'smdw', port: 5433, datadir: expect.any(String) },
        },
      },
    ]);
    expect(configurationOf(fold(events, before))).toEqual(sortRows(withStandby));
    expect(reconcile(fold(events, before), { segments: withStandby, doubleFaults: [] })).toEqual(
      [],
    );
  });

  it('Given a gpinitstandby that failed, Then it is on record until a standby is initialized', () => {
    const failed = fold(
      [
        on(
          {
            type: 'StandbyInitializationFailed',
            data: {
              incidentId: 'api-1',
              location: { hostname: 'mdw', address: 'mdw', port: 5432, datadir: '/data1/x' },
              reason: 'master data directory exists',
            },
          },
          5,
        ),
      ],
      fold(registrationEvents(withStandby.filter((r) => r.dbid !== 10)).map((e) => on(e, 0))),
    );
    expect(failed.coordinator?.standbyFailure).toMatchObject({ hostname: 'mdw', at: at(5) });
    const created = fold(reconcile(failed, { segments: withStandby, doubleFaults: [] }), failed);
    expect(created.coordinator?.standbyFailure).toBeUndefined();
    expect(created.segments.get(10)?.role).toBe('m');
  });

  it('Given the catalog shows another coordinator than the log (activated outside recoverseg), Then no standby is taken from it', () => {
    const before = fold(
      registrationEvents(withStandby.filter((r) => r.dbid !== 10)).map((e) => on(e, 0)),
    );
    expect(reconcile(before, { segments: afterActivation, doubleFaults: [] })).toEqual([]);
  });
});

describe('coordinator events refused, naming the cluster object', () => {
  const cases: [string, () => { events: FoldableEvent[]; last: FoldableEvent }, RegExp][] = [
    [
      'a standby last seen catching up',
      () => {
        const { events, seq } = lost({ state: 'catchup', syncState: 'async' });
        return { events, last: started(seq) };
      },
      /standby dbid 10 was last seen catchup\/async, not streaming in sync/,
    ],
    [
      'a dead standby (no walsender: capture 153)',
      () => {
        const { events, seq } = lost({ state: 'absent' });
        return { events, last: started(seq) };
      },
      /standby dbid 10 was last seen absent/,
    ],
    [
      'an observation 71 s before the loss',
      () => {
        const events = [...registered(), observed(0), unreachable(71)];
        return { events, last: started(events.length - 1, 72) };
      },
      /\(seq \d+\) is 71 s older than the coordinator's loss, over the bound of 60 s/,
    ],
    [
      'a start naming an observation that is not the last',
      () => {
        const { events, seq } = lost();
        return {
          events: [...events.slice(0, -1), observed(20), events.at(-1)!],
          last: started(seq),
        };
      },
      /StandbySyncObserved seq \d+ is not the last observation of standby dbid 10/,
    ],
    [
      'a start while the coordinator answers',
      () => {
        const events = [...registered(), observed(15)];
        return { events, last: started(events.length) };
      },
      /coordinator dbid 1 is not on record as unreachable; recoverseg never replaces a coordinator that answers/,
    ],
    [
      'an activation without a fence',
      () => {
        const { events, seq } = lost();
        return { events: [...events, started(seq)], last: activated() };
      },
      /coordinator dbid 1 is not fenced; activating the standby could leave two coordinators/,
    ],
    [
      'no fence without an approval',
      () => {
        const { events, seq } = lost();
        return { events: [...events, started(seq)], last: fenced('none') };
      },
      /no fence for coordinator dbid 1 and no operator approved going ahead without one/,
    ],
    [
      'a fenced coordinator answering',
      () => {
        const { events, seq } = lost();
        return {
          events: [...events, started(seq), fenced()],
          last: on({ type: 'CoordinatorAnswered', data: { coordinatorDbid: 1 } }, 30),
        };
      },
      /coordinator dbid 1 was fenced by incident coord-1; it cannot answer/,
    ],
    [
      'an observation naming the coordinator',
      () => ({ events: registered(), last: observed(15, inSync, 1) }),
      /dbid 1 is not the standby coordinator \(content -1, role m\); the standby is dbid 10/,
    ],
    [
      'a second standby',
      () => ({
        events: registered(),
        last: on(
          {
            type: 'StandbyInitialized',
            data: {
              dbid: 12,
              location: {
                hostname: 'sdw3',
                address: 'sdw3',
                port: 5432,
                datadir: '/data1/standby',
              },
            },
          },
          1,
        ),
      }),
      /the cluster already has a standby coordinator \(dbid 10\)/,
    ],
    [
      'a refusal after the fence',
      () => {
        const { events, seq } = lost();
        return {
          events: [...events, started(seq), fenced()],
          last: on(
            { type: 'CoordinatorFailoverRefused', data: { incidentId: 'coord-1', reason: 'x' } },
            30,
          ),
        };
      },
      /the old coordinator is fenced already; activate the standby/,
    ],
  ];

  it.each(cases)('%s', (_name, given, message) => {
    const { events, last } = given();
    const when = refusal(events, last);
    expect(when).toThrow(InvalidTransition);
    expect(when).toThrow(message);
  });

  it('a refused event leaves the state as it was (evolve is pure)', () => {
    const { events } = lost();
    const before: ClusterState = fold(events);
    const rows = configurationOf(before);
    expect(() => fold([activated()], before)).toThrow(InvalidTransition);
    expect(configurationOf(before)).toEqual(rows);
  });
});
