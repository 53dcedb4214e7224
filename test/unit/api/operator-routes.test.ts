import { beforeAll, describe, expect, it } from 'vitest';
import type { NewEvent } from '#domain/events.ts';
import { recoveryOptionsSchema } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { apiHarness, NOW, type ApiHarness } from './support.ts';

const segments = (): SegmentRow[] => structuredClone(seedScenario.segments);

let api: ApiHarness;
let n = 0;
const fresh = () => `op${++n}`;

beforeAll(async () => {
  api = apiHarness();
});

async function register(clusterId: string, extra: Record<string, unknown> = {}) {
  return api.call('POST', '/clusters', {
    body: { clusterId, segments: segments(), simulation: { timeScale: 0 }, ...extra },
  });
}

/** A recovery in progress as its run would have written it. */
async function running(clusterId: string, policy: 'approval' | 'immediate' | 'never' | 'window') {
  expect((await register(clusterId)).status).toBe(201);
  const head = await api.stores.events.readHead(clusterId);
  const events: NewEvent[] = [
    {
      type: 'RecoveryRequested',
      data: {
        incidentId: 'inc',
        trigger: { source: 'alarm' },
        options: recoveryOptionsSchema.parse({}),
        rebalance: policy === 'window' ? { policy, window: 'Sun 02:00-04:00 UTC' } : { policy },
      },
    },
  ];
  await api.stores.events.append(clusterId, events, {
    expectedSeq: head.lastSeq,
    idempotencyKey: 'run',
    at: NOW.toISOString(),
  });
}

const seqOf = async (clusterId: string) => (await api.stores.events.readHead(clusterId)).lastSeq;

describe('rebalance policy at registration', () => {
  it('records a window with the registration', async () => {
    const id = fresh();
    const reply = await register(id, {
      rebalancePolicy: 'window',
      rebalanceWindow: 'Sun 02:00-04:00 UTC',
    });
    expect(reply).toMatchObject({ status: 201, body: { seq: 2 } });
    const status = await api.call('GET', `/clusters/${id}/status`);
    expect(status.body.rebalancePolicy).toEqual({
      policy: 'window',
      window: 'Sun 02:00-04:00 UTC',
    });
  });

  it.each([
    [
      'a window that never opens',
      { rebalancePolicy: 'window', rebalanceWindow: 'Sun 02:00-02:00 UTC' },
      /^body\.rebalanceWindow: window "Sun 02:00-02:00 UTC": it opens and closes at the same minute, so it never opens/,
    ],
    [
      'a malformed window',
      { rebalancePolicy: 'window', rebalanceWindow: 'Sundays at 2' },
      /^body\.rebalanceWindow: window "Sundays at 2": expected DAYS HH:MM-HH:MM UTC/,
    ],
    [
      'a window policy without a window',
      { rebalancePolicy: 'window' },
      /^body\.rebalanceWindow: rebalance policy window needs a window/,
    ],
    [
      'a window with another policy',
      { rebalancePolicy: 'approval', rebalanceWindow: 'Sun 02:00-04:00 UTC' },
      /^body\.rebalanceWindow: a window applies to rebalance policy window only/,
    ],
    ['an unknown policy', { rebalancePolicy: 'sometimes' }, /^body\.rebalancePolicy: /],
  ])('refuses %s with 400 and writes nothing', async (_name, extra, message) => {
    const id = fresh();
    const reply = await register(id, extra);
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatch(message);
    expect(await seqOf(id)).toBe(0);
  });

  it('changes the policy of a registered cluster, and refuses a bad one writing nothing', async () => {
    const id = fresh();
    await register(id);
    const set = await api.call('PUT', `/clusters/${id}/rebalance-policy`, {
      body: { rebalancePolicy: 'approval' },
    });
    expect(set).toMatchObject({ status: 200, body: { rebalancePolicy: { policy: 'approval' } } });
    const seq = await seqOf(id);
    const bad = await api.call('PUT', `/clusters/${id}/rebalance-policy`, {
      body: { rebalancePolicy: 'window', rebalanceWindow: 'Mon 25:00-01:00 UTC' },
    });
    expect(bad.status).toBe(400);
    expect(await seqOf(id)).toBe(seq);
    expect(
      (
        await api.call('PUT', '/clusters/ghost/rebalance-policy', {
          body: { rebalancePolicy: 'never' },
        })
      ).status,
    ).toBe(404);
  });

  it('refuses a recovery asking for a window when neither it nor the cluster has one, starting nothing', async () => {
    const id = fresh();
    await register(id);
    const calls = api.starter.calls.length;
    const reply = await api.call('POST', `/clusters/${id}/recoveries`, {
      body: { rebalancePolicy: 'window' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.path).toBe('body.rebalanceWindow');
    expect(api.starter.calls.length).toBe(calls);
  });

  it("passes the request's policy and window to the run", async () => {
    const id = fresh();
    await register(id);
    const reply = await api.call('POST', `/clusters/${id}/recoveries`, {
      body: { incidentId: 'x', rebalancePolicy: 'window', rebalanceWindow: 'Sat 01:00-03:00 UTC' },
    });
    expect(reply.status).toBe(202);
    expect(api.starter.calls.at(-1)?.options).toMatchObject({
      rebalancePolicy: 'window',
      rebalanceWindow: 'Sat 01:00-03:00 UTC',
    });
  });
});

describe('POST /clusters/{id}/rebalance-approval', () => {
  it('records who approved, once', async () => {
    const id = fresh();
    await running(id, 'approval');
    const first = await api.call('POST', `/clusters/${id}/rebalance-approval`, {
      body: { by: 'dba-anna' },
    });
    expect(first).toMatchObject({
      status: 202,
      body: { clusterId: id, incidentId: 'inc', approvedBy: 'dba-anna' },
    });
    const last = (await api.stores.events.read(id)).at(-1);
    expect(last).toMatchObject({
      type: 'RebalanceApproved',
      data: { incidentId: 'inc', by: 'dba-anna' },
      causation: { actor: 'dba-anna' },
    });
    const seq = await seqOf(id);
    const twice = await api.call('POST', `/clusters/${id}/rebalance-approval`, {
      body: { by: 'dba-bob' },
    });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatch(
      new RegExp(
        `^cluster ${id}: the rebalance of incident inc was already approved by dba-anna at `,
      ),
    );
    expect(await seqOf(id)).toBe(seq);
  });

  it.each([
    ['an unknown cluster', 'ghost', undefined, {}, 404, /cluster ghost is not registered/],
    ['nothing running', 'idle', undefined, {}, 409, /has no recovery in progress; nothing to do/],
    [
      'another incident',
      'other',
      'approval',
      { incidentId: 'nope' },
      409,
      /incident nope is not the recovery in progress \(incident inc\)/,
    ],
    [
      'a run that rebalances at once',
      'imm',
      'immediate',
      {},
      409,
      /follows rebalance policy immediate, so it waits for no approval/,
    ],
    ['a run that never rebalances', 'nev', 'never', {}, 409, /policy never/],
    ['a malformed body', 'bad', 'approval', { by: '' }, 400, /^body\.by: /],
  ] as const)(
    'refuses %s and writes nothing',
    async (_name, suffix, policy, body, status, message) => {
      const id = suffix === 'ghost' ? 'ghost' : fresh();
      if (policy) await running(id, policy);
      else if (suffix !== 'ghost') await register(id);
      const seq = await seqOf(id);
      const reply = await api.call('POST', `/clusters/${id}/rebalance-approval`, { body });
      expect(reply.status).toBe(status);
      expect(reply.body.error).toMatch(message);
      expect(await seqOf(id)).toBe(seq);
    },
  );

  it('accepts an approval in advance for a window run', async () => {
    const id = fresh();
    await running(id, 'window');
    const reply = await api.call('POST', `/clusters/${id}/rebalance-approval`, { body: {} });
    expect(reply).toMatchObject({ status: 202, body: { approvedBy: 'api' } });
    expect(reply.body.message).toMatch(/in advance/);
  });
});
