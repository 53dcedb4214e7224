import { beforeAll, describe, expect, it } from 'vitest';
import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { apiHarness, type ApiHarness } from './support.ts';

const segments = (): SegmentRow[] => structuredClone(seedScenario.segments);

let api: ApiHarness;
let n = 0;
const fresh = () => `rp${++n}`;

beforeAll(() => {
  api = apiHarness();
});

const register = (clusterId: string, extra: Record<string, unknown> = {}) =>
  api.call('POST', '/clusters', {
    body: { clusterId, segments: segments(), simulation: { timeScale: 0 }, ...extra },
  });
const seqOf = async (clusterId: string) => (await api.stores.events.readHead(clusterId)).lastSeq;
const statusOf = async (clusterId: string) =>
  (await api.call('GET', `/clusters/${clusterId}/status`)).body;

describe('the recovery policy: what the watcher does on a failure', () => {
  it('is notify for a cluster registered without one, and nothing is written for it', async () => {
    const id = fresh();
    expect(await register(id)).toMatchObject({ status: 201, body: { seq: 1 } });
    expect(await statusOf(id)).toMatchObject({
      recoveryPolicy: 'notify',
      watch: { wholeOnRecord: false, seenWholeAt: null, wholeUntil: null },
    });
  });

  it('is recorded with the registration when given', async () => {
    const id = fresh();
    expect(await register(id, { recoveryPolicy: 'auto' })).toMatchObject({
      status: 201,
      body: { seq: 2 },
    });
    expect((await api.stores.events.read(id)).map((e) => e.type)).toEqual([
      'ClusterRegistered',
      'RecoveryPolicySet',
    ]);
    expect(await statusOf(id)).toMatchObject({ recoveryPolicy: 'auto' });
  });

  it('is changed by PUT /clusters/{id}/recovery-policy, naming who changed it; the same policy again writes nothing', async () => {
    const id = fresh();
    await register(id);
    const set = await api.call('PUT', `/clusters/${id}/recovery-policy`, {
      body: { recoveryPolicy: 'auto', by: 'dba' },
    });
    expect(set).toMatchObject({
      status: 200,
      body: { clusterId: id, recoveryPolicy: 'auto', changed: true, seq: 2 },
    });
    const [event] = await api.stores.events.read(id, { afterSeq: 1 });
    expect(event).toMatchObject({
      type: 'RecoveryPolicySet',
      data: { policy: 'auto' },
      causation: { actor: 'dba' },
    });
    const again = await api.call('PUT', `/clusters/${id}/recovery-policy`, {
      body: { recoveryPolicy: 'auto' },
    });
    expect(again).toMatchObject({ status: 200, body: { changed: false, seq: 2 } });
    expect(await seqOf(id)).toBe(2);
    await api.call('PUT', `/clusters/${id}/recovery-policy`, { body: { recoveryPolicy: 'off' } });
    expect(await statusOf(id)).toMatchObject({ recoveryPolicy: 'off' });
  });

  it('is read from the projection once it has caught up, as behind API Gateway', async () => {
    const id = fresh();
    await register(id, { recoveryPolicy: 'off', rebalancePolicy: 'approval' });
    await api.stores.projector.project(id);
    expect((await api.stores.projection.read(id)).state).toMatchObject({
      seq: 3,
      recoveryPolicy: 'off',
      rebalancePolicy: { policy: 'approval' },
    });
    expect(await statusOf(id)).toMatchObject({
      recoveryPolicy: 'off',
      rebalancePolicy: { policy: 'approval' },
    });
  });

  it.each([
    ['an unknown policy', { recoveryPolicy: 'sometimes' }, /^body\.recoveryPolicy: Invalid option/],
    ['no policy', {}, /^body\.recoveryPolicy: /],
    ['a policy that is not a string', { recoveryPolicy: ['auto'] }, /^body\.recoveryPolicy: /],
    ['an unknown field', { recoveryPolicy: 'auto', shell: 'rm -rf /' }, /^body: .*shell/],
    ['an oversized name', { recoveryPolicy: 'auto', by: 'x'.repeat(10_000) }, /^body\.by: /],
    ['a body that is not an object', 'auto', /^body: /],
  ])('refuses %s with 400 and writes nothing', async (_what, body, message) => {
    const id = fresh();
    await register(id);
    const reply = await api.call('PUT', `/clusters/${id}/recovery-policy`, { body });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatch(message);
    expect(await seqOf(id)).toBe(1);
  });

  it('refuses a bad policy at registration with 400, registering nothing', async () => {
    const id = fresh();
    const reply = await register(id, { recoveryPolicy: 'always' });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatch(/^body\.recoveryPolicy: /);
    expect(await seqOf(id)).toBe(0);
  });

  it('answers 404 for a cluster never registered', async () => {
    const reply = await api.call('PUT', '/clusters/ghost/recovery-policy', {
      body: { recoveryPolicy: 'auto' },
    });
    expect(reply.status).toBe(404);
    expect(await seqOf('ghost')).toBe(0);
  });
});
