import { beforeAll, describe, expect, it } from 'vitest';
import { configurationOf, emptyState, fold } from '#domain/evolve.ts';
import { InvalidTransition, ValidationError } from '#domain/errors.ts';
import type { NewEvent } from '#domain/events.ts';
import { registrationEvents } from '#domain/registration.ts';
import { AppendRejected, ClusterLocked, ConcurrencyError } from '#store/errors.ts';
import type { StorePorts } from '#store/ports.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { seedIncidentPhases } from '#test/fixtures/seed.ts';

const at = '2024-12-23T12:00:00.000Z';

/**
 * What every implementation of the store port promises, run against each: the memory store in
 * the unit project, DynamoDB Local in the integration project. A unit test that passes on the
 * memory store therefore relies on nothing DynamoDB would not do.
 */
export function storeContract(name: string, create: () => Promise<StorePorts>): void {
  const [registration, failure, recovery, rebalance] = seedIncidentPhases();
  let stores: StorePorts;
  let n = 0;
  // One set of stores for the file (fresh DynamoDB tables cost a round trip each); every case
  // works on its own clusters.
  const cluster = () => `contract-${++n}`;
  beforeAll(async () => {
    stores = await create();
  });

  const register = (id: string) =>
    stores.events.append(id, registration, { expectedSeq: 0, idempotencyKey: 'register', at });

  describe(`${name}: the event log`, () => {
    it('appends seq 1, 2, 3 … and reads back in order, by range and as state', async () => {
      const id = cluster();
      expect(await stores.events.readHead(id)).toMatchObject({ lastSeq: 0 });
      expect(await stores.events.read(id)).toEqual([]);
      expect(await register(id)).toEqual({ firstSeq: 1, lastSeq: 1, duplicate: false });
      const causation = { executionId: 'exec-1', state: 'Detect' };
      expect(
        await stores.events.append(id, failure, {
          expectedSeq: 1,
          idempotencyKey: 'fts',
          at,
          causation,
        }),
      ).toEqual({ firstSeq: 2, lastSeq: 1 + failure.length, duplicate: false });
      const events = await stores.events.read(id);
      expect(events.map((e) => e.seq)).toEqual(
        Array.from({ length: 1 + failure.length }, (_, i) => i + 1),
      );
      expect(events[0]).toEqual({
        clusterId: id,
        seq: 1,
        at,
        idempotencyKey: 'register',
        causation: {},
        ...registration[0],
      });
      expect(events[1]).toMatchObject({ idempotencyKey: 'fts', causation, ...failure[0] });
      expect(await stores.events.readHead(id)).toMatchObject({ lastSeq: 1 + failure.length });
      expect((await stores.events.read(id, { afterSeq: 1, toSeq: 2 })).map((e) => e.seq)).toEqual([
        2,
      ]);
      const pages: number[][] = [];
      for await (const page of stores.events.readPages(id, { afterSeq: 2 }))
        pages.push(page.map((e) => e.seq));
      expect(pages.flat()).toEqual(events.slice(2).map((e) => e.seq));
      expect(configurationOf(await stores.events.loadState(id))).toEqual(
        configurationOf(fold([...registration, ...failure])),
      );
      const asOf = await stores.events.loadState(id, { toSeq: 1 });
      expect(asOf.seq).toBe(1);
      expect(configurationOf(asOf)).toEqual(configurationOf(fold(registration)));
    });

    it('lists every cluster with a committed event, sorted', async () => {
      const [b, a, never] = [cluster(), cluster(), cluster()].map((id) => `${id}-list`);
      await register(b!);
      await register(a!);
      await expect(
        stores.events.append(never!, [{ type: 'SegmentExploded', data: {} }] as never, {
          expectedSeq: 0,
          idempotencyKey: 'refused',
          at,
        }),
      ).rejects.toThrow();
      const mine = (await stores.events.clusterIds()).filter((id) => id.endsWith('-list'));
      expect(mine).toEqual([a, b].sort());
    });

    it('gives a repeated idempotency key the first append back, writing nothing', async () => {
      const id = cluster();
      await register(id);
      const first = await stores.events.append(id, failure, {
        expectedSeq: 1,
        idempotencyKey: 'exec/Detect',
        at,
      });
      const before = await stores.events.read(id);
      // Retried after the log moved on: still the first append's seqs, not a lost race.
      const again = await stores.events.append(id, failure, {
        expectedSeq: 1,
        idempotencyKey: 'exec/Detect',
        at,
      });
      expect(again).toEqual({ ...first, duplicate: true });
      expect(await stores.events.read(id)).toEqual(before);
      // The key is per cluster.
      const other = cluster();
      expect(
        await stores.events.append(other, registration, {
          expectedSeq: 0,
          idempotencyKey: 'exec/Detect',
          at,
        }),
      ).toEqual({ firstSeq: 1, lastSeq: 1, duplicate: false });
    });

    it('raises ConcurrencyError for a stale or future expected seq, and writes nothing', async () => {
      const id = cluster();
      await register(id);
      await expect(
        stores.events.append(id, failure, { expectedSeq: 0, idempotencyKey: 'late', at }),
      ).rejects.toThrow(ConcurrencyError);
      await expect(
        stores.events.append(id, failure, { expectedSeq: 7, idempotencyKey: 'ahead', at }),
      ).rejects.toThrow(/expected last seq 7, but the log is at seq 1/);
      expect(await stores.events.read(id)).toHaveLength(1);
    });

    it('lets exactly one of several racing appenders have each seq', async () => {
      const id = cluster();
      await register(id);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, w) =>
          stores.events.append(id, failure, { expectedSeq: 1, idempotencyKey: `w${w}`, at }),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes)
        if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConcurrencyError);
      expect(await stores.events.read(id)).toHaveLength(1 + failure.length);
    });

    it('refuses bad appends before writing anything, idempotency key included', async () => {
      const id = cluster();
      await register(id);
      const state = await stores.events.loadState(id);
      const refused: [NewEvent[], object, new (...args: never[]) => Error][] = [
        [[], {}, AppendRejected],
        [[{ type: 'SegmentExploded', data: {} } as never], {}, ValidationError],
        [failure, { idempotencyKey: '' }, ValidationError],
        [failure, { state: { ...state, seq: 0 } }, AppendRejected],
        [
          [
            { type: 'MirrorPromoted', data: { content: 0, promotedDbid: 6, demotedDbid: 2 } },
            { type: 'SegmentMarkedDown', data: { dbid: 2 } },
          ],
          { state },
          InvalidTransition,
        ],
      ];
      for (const [events, override, type] of refused)
        await expect(
          stores.events.append(id, events, {
            expectedSeq: 1,
            idempotencyKey: 'refused',
            at,
            ...override,
          }),
        ).rejects.toBeInstanceOf(type);
      await expect(
        stores.events.append('../etc', failure, { expectedSeq: 0, idempotencyKey: 'k', at }),
      ).rejects.toThrow(/clusterId/);
      expect(await stores.events.read(id)).toHaveLength(1);
      expect(
        await stores.events.append(id, failure, { expectedSeq: 1, idempotencyKey: 'refused', at }),
      ).toMatchObject({ firstSeq: 2, duplicate: false });
    });
  });

  describe(`${name}: the projection`, () => {
    const appendAll = async (id: string, phases: NewEvent[][]) => {
      for (const events of phases) {
        const state = await stores.events.loadState(id);
        await stores.events.append(id, events, {
          expectedSeq: state.seq,
          idempotencyKey: `after-${state.seq}`,
          at,
          state,
        });
      }
    };

    it('removes a row the log removed (the old coordinator after an activation), projected or rebuilt', async () => {
      const id = cluster();
      const observed = 2;
      await appendAll(id, [
        registration,
        [
          {
            type: 'StandbySyncObserved',
            data: { standbyDbid: 10, replication: { state: 'streaming', syncState: 'sync' } },
          },
          { type: 'CoordinatorUnreachable', data: { coordinatorDbid: 1, detail: 'no response' } },
        ],
        [
          {
            type: 'CoordinatorFailoverStarted',
            data: {
              incidentId: 'coord-1',
              coordinatorDbid: 1,
              standbyDbid: 10,
              observationSeq: observed,
              maxObservationAgeSeconds: 60,
              trigger: { source: 'api' },
            },
          },
          {
            type: 'CoordinatorFenced',
            data: {
              incidentId: 'coord-1',
              coordinatorDbid: 1,
              how: 'pg-ctl-stop-immediate',
              detail: 'x',
            },
          },
        ],
      ]);
      await stores.projector.project(id);
      await appendAll(id, [
        [{ type: 'StandbyActivated', data: { incidentId: 'coord-1', dbid: 10 } }],
      ]);
      await stores.projector.project(id);
      const coordinators = (rows: { content: number; dbid: number }[]) =>
        rows.filter((r) => r.content === -1).map((r) => r.dbid);
      expect(coordinators((await stores.projection.read(id)).rows)).toEqual([10]);
      await stores.projection.replace(id, fold(await stores.events.read(id)));
      expect(coordinators((await stores.projection.read(id)).rows)).toEqual([10]);
      // A rebuild over a projection that still held the old row removes it too.
      await stores.projection.replace(id, fold((await stores.events.read(id)).slice(0, 5)));
      expect(coordinators((await stores.projection.read(id)).rows)).toEqual([1, 10]);
      await stores.projection.replace(id, fold(await stores.events.read(id)));
      expect(coordinators((await stores.projection.read(id)).rows)).toEqual([10]);
    });

    it('projects the fold of the log, catching up from the log, and rebuilds the same', async () => {
      const id = cluster();
      expect(await stores.projection.read(id)).toMatchObject({ rows: [], state: { seq: 0 } });
      await appendAll(id, [registration, failure]);
      expect(await stores.projector.project(id)).toMatchObject({
        fromSeq: 0,
        toSeq: 1 + failure.length,
        readFromLog: true,
      });
      await appendAll(id, [recovery, rebalance]);
      const log = await stores.events.read(id);
      const delivered = log.slice(1 + failure.length);
      expect(await stores.projector.project(id, delivered)).toMatchObject({
        toSeq: log.length,
        readFromLog: false,
      });
      // Delivered twice: nothing moves.
      expect(await stores.projector.project(id, delivered)).toMatchObject({
        fromSeq: log.length,
        toSeq: log.length,
      });
      const projected = await stores.projection.read(id);
      const folded = fold(log);
      expect(projected.rows).toEqual(configurationOf(folded));
      expect(projected.state).toEqual(folded);
      const rebuilt = await stores.projector.rebuild(id);
      expect(rebuilt).toEqual(folded);
      expect(await stores.projection.read(id)).toEqual(projected);
    });

    it('replaces hundreds of rows whole, deleting those the new state lacks', async () => {
      const id = cluster();
      // 513 rows: 21 batches of 25, more than the store writes at once.
      const large = fold(registrationEvents(groupMirroredCluster(8, 32)));
      await stores.projection.replace(id, large);
      expect(await stores.projection.read(id)).toEqual({
        state: large,
        rows: configurationOf(large),
      });
      // dbids 1-33 rewritten as another cluster's, 34-513 deleted.
      const small = fold(registrationEvents(groupMirroredCluster(4, 4)));
      await stores.projection.replace(id, small);
      expect(await stores.projection.read(id)).toEqual({
        state: small,
        rows: configurationOf(small),
      });
    });

    it('never moves a row or the summary back to an older seq', async () => {
      const id = cluster();
      await appendAll(id, [registration, failure, recovery]);
      const log = await stores.events.read(id);
      const registered = fold(log.slice(0, 1));
      const failed = fold(log.slice(1, 1 + failure.length), registered);
      const recovered = fold(log.slice(1 + failure.length), failed);
      expect(await stores.projection.write(id, emptyState(), registered)).toBe(true);
      expect(await stores.projection.write(id, registered, recovered)).toBe(true);
      // A late projector that read the registration and folded only the failure.
      expect(await stores.projection.write(id, registered, failed)).toBe(false);
      // Nor may one that starts from nothing.
      expect(await stores.projection.write(id, emptyState(), failed)).toBe(false);
      // Nor one whose starting point was never written.
      const other = cluster();
      expect(await stores.projection.write(other, registered, failed)).toBe(false);
      expect((await stores.projection.read(other)).state.seq).toBe(0);
      const projected = await stores.projection.read(id);
      expect(projected.state.seq).toBe(recovered.seq);
      expect(projected.rows).toEqual(configurationOf(recovered));
    });

    it('lists every cluster with a projected summary', async () => {
      const [a, b, unprojected] = [cluster(), cluster(), cluster()];
      for (const id of [a, b, unprojected]) await appendAll(id, [registration]);
      await appendAll(a, [failure]);
      await stores.projector.project(a);
      await stores.projector.project(b);
      const listed = (await stores.projection.list()).filter((s) =>
        [a, b, unprojected].includes(s.clusterId),
      );
      const incident = fold(await stores.events.read(a)).recovery;
      const byId = (x: { clusterId: string }, y: { clusterId: string }) =>
        x.clusterId.localeCompare(y.clusterId);
      expect(listed.sort(byId)).toEqual(
        [
          {
            clusterId: a,
            seq: 1 + failure.length,
            recovery: incident ? { incidentId: incident.incidentId } : undefined,
            lastIncident: undefined,
            doubleFaults: [],
          },
          { clusterId: b, seq: 1, recovery: undefined, lastIncident: undefined, doubleFaults: [] },
        ].sort(byId),
      );
    });
  });

  describe(`${name}: the standby's last confirmation`, () => {
    it('keeps the latest confirmation, never an earlier one', async () => {
      const id = cluster();
      expect(await stores.standby.read(id)).toBeUndefined();
      const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 8, 0, s)).toISOString();
      await stores.standby.confirm(id, { standbyDbid: 10, observationSeq: 7, at: at(10) });
      await stores.standby.confirm(id, { standbyDbid: 10, observationSeq: 7, at: at(40) });
      await stores.standby.confirm(id, { standbyDbid: 10, observationSeq: 7, at: at(20) });
      expect(await stores.standby.read(id)).toEqual({
        standbyDbid: 10,
        observationSeq: 7,
        at: at(40),
      });
      expect(await stores.standby.read(cluster())).toBeUndefined();
    });
  });

  describe(`${name}: the cluster lock`, () => {
    it('holds one holder at a time, renews for it, and frees on release or expiry', async () => {
      const id = cluster();
      expect(await stores.lock.read(id)).toBeUndefined();
      const held = await stores.lock.acquire(id, 'exec-a', 'inc-1', 1000, 60);
      expect(held).toEqual({
        holder: 'exec-a',
        incidentId: 'inc-1',
        acquiredAt: 1000,
        expiresAt: 1060,
      });
      expect(await stores.lock.read(id)).toEqual(held);
      const refused = stores.lock.acquire(id, 'exec-b', 'inc-2', 1030, 60);
      await expect(refused).rejects.toBeInstanceOf(ClusterLocked);
      await expect(refused).rejects.toMatchObject({ holder: 'exec-a', expiresAt: 1060 });
      // Still held at its expiry second; free after.
      await expect(stores.lock.acquire(id, 'exec-b', 'inc-2', 1060, 60)).rejects.toThrow(
        ClusterLocked,
      );
      expect(await stores.lock.acquire(id, 'exec-a', 'inc-1', 1050, 60)).toMatchObject({
        expiresAt: 1110,
      });
      expect(await stores.lock.acquire(id, 'exec-b', 'inc-2', 1111, 60)).toMatchObject({
        holder: 'exec-b',
      });
      expect(await stores.lock.release(id, 'exec-a')).toBe(false);
      expect(await stores.lock.read(id)).toMatchObject({ holder: 'exec-b' });
      expect(await stores.lock.release(id, 'exec-b')).toBe(true);
      expect(await stores.lock.release(id, 'exec-b')).toBe(false);
      expect(await stores.lock.read(id)).toBeUndefined();
    });

    it('gives the lock to exactly one of several racing holders', async () => {
      const id = cluster();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => stores.lock.acquire(id, `exec-${i}`, 'inc', 1000, 60)),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(won).toHaveLength(1);
      expect(await stores.lock.read(id)).toEqual(won[0]!.value);
    });
  });
}
