import { beforeAll, describe, expect, it } from 'vitest';
import type { NewEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { apiHarness, type ApiHarness } from './support.ts';

/*
 * The operator's say in a coordinator failover through the API: the coordinator policy, and
 * the same approval route as a rebalance, which approves the activation a failover waits for.
 */

const segments = (): SegmentRow[] => structuredClone(seedScenario.segments);

let api: ApiHarness;
let n = 0;
const fresh = () => `co${++n}`;

beforeAll(() => {
  api = apiHarness();
});

const register = (clusterId: string) =>
  api.call('POST', '/clusters', {
    body: { clusterId, segments: segments(), simulation: { timeScale: 0 } },
  });

const at = (second: number) => new Date(Date.UTC(2026, 11, 3, 8, 0, second)).toISOString();

/** A failover waiting for an approval (no fence: the old host does not answer). */
async function awaitingApproval(clusterId: string) {
  await register(clusterId);
  const append = async (events: NewEvent[], second: number) => {
    const { lastSeq } = await api.stores.events.readHead(clusterId);
    await api.stores.events.append(clusterId, events, {
      expectedSeq: lastSeq,
      idempotencyKey: `test@${lastSeq}`,
      at: at(second),
    });
    return lastSeq + events.length;
  };
  const observed = await append(
    [
      {
        type: 'StandbySyncObserved',
        data: { standbyDbid: 10, replication: { state: 'streaming', syncState: 'sync' } },
      },
    ],
    1,
  );
  await append(
    [{ type: 'CoordinatorUnreachable', data: { coordinatorDbid: 1, detail: 'no response' } }],
    20,
  );
  await append(
    [
      {
        type: 'CoordinatorFailoverStarted',
        data: {
          incidentId: 'watch-3',
          coordinatorDbid: 1,
          standbyDbid: 10,
          observationSeq: observed,
          maxObservationAgeSeconds: 60,
          trigger: { source: 'watch' },
        },
      },
      {
        type: 'CoordinatorFailoverAwaitingApproval',
        data: {
          incidentId: 'watch-3',
          risk: 'the old coordinator cannot be fenced',
          fence: 'none',
        },
      },
    ],
    30,
  );
}

describe('PUT /clusters/{id}/coordinator-policy', () => {
  it('sets the policy and the bound, naming who; the same again writes nothing', async () => {
    const id = fresh();
    await register(id);
    const set = await api.call('PUT', `/clusters/${id}/coordinator-policy`, {
      body: { coordinatorPolicy: 'auto', maxObservationAgeSeconds: 30, by: 'dba' },
    });
    expect(set).toMatchObject({
      status: 200,
      body: { coordinatorPolicy: { policy: 'auto', maxObservationAgeSeconds: 30 }, changed: true },
    });
    const again = await api.call('PUT', `/clusters/${id}/coordinator-policy`, {
      body: { coordinatorPolicy: 'auto', maxObservationAgeSeconds: 30 },
    });
    expect(again).toMatchObject({ status: 200, body: { changed: false } });
    const status = await api.call('GET', `/clusters/${id}/status`);
    expect(status.body).toMatchObject({
      coordinator: { policy: { policy: 'auto', maxObservationAgeSeconds: 30 } },
    });
  });

  it.each([
    [{ coordinatorPolicy: 'always' }, /body.coordinatorPolicy/],
    [{ coordinatorPolicy: 'auto', maxObservationAgeSeconds: 0 }, /maxObservationAgeSeconds/],
    [{ coordinatorPolicy: 'auto', maxObservationAgeSeconds: 86400 }, /maxObservationAgeSeconds/],
    [{ coordinatorPolicy: 'auto', extra: 1 }, /extra/],
    [{}, /coordinatorPolicy/],
  ])('refuses %j with a 400 naming the field, and writes nothing', async (body, field) => {
    const id = fresh();
    await register(id);
    const refused = await api.call('PUT', `/clusters/${id}/coordinator-policy`, { body });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(field);
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(1);
  });
});

describe('POST /clusters/{id}/rebalance-approval approves a waiting activation', () => {
  it('records the approval once, naming who, and refuses it twice', async () => {
    const id = fresh();
    await awaitingApproval(id);
    const approved = await api.call('POST', `/clusters/${id}/rebalance-approval`, {
      body: { by: 'dba' },
    });
    expect(approved).toMatchObject({
      status: 202,
      body: { incidentId: 'watch-3', approvedBy: 'dba' },
    });
    expect((await api.stores.events.read(id)).at(-1)).toMatchObject({
      type: 'CoordinatorFailoverApproved',
      data: { incidentId: 'watch-3', by: 'dba' },
    });
    const twice = await api.call('POST', `/clusters/${id}/rebalance-approval`, {
      body: { by: 'dba' },
    });
    expect(twice.status).toBe(409);
    expect(JSON.stringify(twice.body)).toMatch(/already approved by dba/);
  });

  it('refuses an approval naming another incident, and writes nothing', async () => {
    const id = fresh();
    await awaitingApproval(id);
    const { lastSeq } = await api.stores.events.readHead(id);
    const refused = await api.call('POST', `/clusters/${id}/rebalance-approval`, {
      body: { by: 'dba', incidentId: 'other' },
    });
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toMatch(
      /incident other is not the coordinator failover in progress \(incident watch-3\)/,
    );
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(lastSeq);
  });
});

describe('POST /clusters/{id}/recoveries of kind standby', () => {
  it('refuses a standby run that does not say where, and writes nothing', async () => {
    const id = fresh();
    await register(id);
    const refused = await api.call('POST', `/clusters/${id}/recoveries`, {
      body: { kind: 'standby' },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/body.standby: a standby run needs where/);
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(1);
  });

  it.each([
    [{ hostname: 'smdw', address: 'smdw', port: 70000, datadir: '/d' }, /port/],
    [{ hostname: 'smdw;reboot', address: 'smdw', port: 5433, datadir: '/d' }, /hostname/],
    [{ hostname: 'smdw', address: 'smdw', port: 5433, datadir: 'relative' }, /datadir/],
  ])('refuses a hostile or malformed location %j naming the field', async (standby, field) => {
    const id = fresh();
    await register(id);
    const refused = await api.call('POST', `/clusters/${id}/recoveries`, {
      body: { kind: 'standby', standby },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(field);
    expect((await api.stores.events.readHead(id)).lastSeq).toBe(1);
  });
});
