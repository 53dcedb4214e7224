import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedScenario } from '#test/fixtures/seed.ts';
import { apiHarness, type ApiHarness } from './support.ts';

let api: ApiHarness;

beforeAll(async () => {
  api = apiHarness();
  const reply = await api.call('POST', '/clusters', {
    body: { clusterId: 'prop', segments: seedScenario.segments, simulation: { timeScale: 0 } },
  });
  expect(reply.status).toBe(201);
});

const clusterIds = fc.oneof(
  { weight: 4, arbitrary: fc.constant('prop') },
  fc.constant('ghost'),
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    '..',
    '.',
    '%',
    '%2F',
    '%E0%A4%A',
    '%00',
    ';rm -rf /',
    '☃',
    'x'.repeat(300),
    '__proto__',
    'constructor',
  ),
);

const paths = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        clusterIds,
        fc.constantFrom(
          '',
          '/configuration',
          '/events',
          '/status',
          '/recoveries',
          '/faults',
          '/recoveries/inc-1',
          '/recoveries/%2e%2e',
          '/nope',
          '//',
        ),
      )
      .map(([id, rest]) => `/clusters/${id}${rest}`),
  },
  fc.constantFrom('/', '', '/clusters', '/clusters/', '//clusters', '/CLUSTERS'),
  fc.string({ maxLength: 40 }),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
);

/** Values shaped like the routes' bodies, with any field possibly wrong. */
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('segment-2', 'segment-9', 'full', 'incremental', 'auto', 6, 1, 99, true),
);
const shapedBody = fc.dictionary(
  fc.constantFrom(
    'clusterId',
    'segments',
    'simulation',
    'incidentId',
    'type',
    'targetHosts',
    'rebalance',
    'dryRun',
    'replayLagGb',
    'failedHosts',
    'waits',
    'trigger',
    'host',
    'dbid',
    'kind',
    '__proto__',
  ),
  fieldValue,
  { maxKeys: 5 },
);

const bodies = fc.oneof(
  { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 50 }),
  shapedBody.map((b) => JSON.stringify(b)),
  fc.constantFrom(
    '{',
    '[',
    '"',
    'null',
    '{"a":' + '['.repeat(5000),
    '\u0000',
    '{"__proto__":{"x":1}}',
  ),
);

const queries = fc.option(
  fc.dictionary(
    fc.constantFrom('seq', 'after', 'limit', 'x'),
    fc.oneof(fc.string({ maxLength: 12 }), fc.nat().map(String)),
    { maxKeys: 3 },
  ),
  { nil: undefined },
);

describe('the API never answers 5xx to what a caller sends', () => {
  it('answers every random method, path, query and body with a status below 500 and a JSON error for 4xx; a 4xx appends nothing', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        paths,
        queries,
        bodies,
        async (method, path, query, raw) => {
          const before = (await api.stores.events.readHead('prop')).lastSeq;
          const calls = api.starter.calls.length;
          const reply = await api.call(method, path, { raw, query });
          seen.add(reply.status);
          expect(reply.status, JSON.stringify(reply.body)).toBeLessThan(500);
          if (reply.status >= 400) {
            expect(typeof reply.body.error).toBe('string');
            expect((await api.stores.events.readHead('prop')).lastSeq).toBe(before);
            expect(api.starter.calls.length).toBe(calls);
          }
        },
      ),
      { numRuns: 300, seed: 20241223, endOnFailure: true },
    );
    // The walk reached the handlers, not only the router.
    expect([...seen].sort()).toEqual(expect.arrayContaining([200, 400, 404, 405]));
    expect(api.errors).toEqual([]);
  });
});
