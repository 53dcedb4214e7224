import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handleApiEvent } from '#api/http.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { createIsolatedTables } from '#local/dynamodb-local.ts';
import { createDynamoClient } from '#store/clients.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { configurationOf } from '#domain/evolve.ts';
import { recoveryOptionsSchema } from '#domain/events.ts';
import { seedScenario, seedTables } from '#test/fixtures/seed.ts';
import { apiEvent, reply } from '#test/unit/api/support.ts';

/**
 * The operator's controls on the deployed workflow, run locally: the same routes, the same
 * state machine (aws-local-stepfunctions), the same handlers. Waits are zero; the test acts
 * from the observer the moment the run reaches the point it is about.
 */
let runtime: LocalRuntime;
let onTask: ((task: WorkflowTask, output: unknown) => Promise<void>) | undefined;

beforeAll(async () => {
  const endpoint = inject('dynamodbEndpoint');
  const tables = await createIsolatedTables(createDynamoClient(endpoint), 'operator');
  runtime = await startLocalRuntime({
    endpoint,
    tables,
    definition: workflowDefinition(),
    observer: { onTaskSucceeded: async (task, _payload, output) => onTask?.(task, output) },
  });
});
afterAll(async () => {
  onTask = undefined;
  await runtime.stop();
});

const call = async (method: string, path: string, body?: unknown) =>
  reply(
    await handleApiEvent(
      runtime.api,
      apiEvent(method, path, body === undefined ? null : JSON.stringify(body)),
      { error: () => {} },
    ),
  );

let n = 0;
async function brokenSeed(extra: Record<string, unknown> = {}) {
  const clusterId = `op${++n}`;
  const registered = await call('POST', '/clusters', {
    clusterId,
    segments: seedScenario.segments,
    simulation: { timeScale: 0 },
    ...extra,
  });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  await call('POST', `/clusters/${clusterId}/faults`, { host: 'segment-2' });
  return clusterId;
}

const ZERO = { pollSeconds: 0, approvalPollSeconds: 0 };
const types = async (clusterId: string) =>
  (await runtime.stores.events.read(clusterId)).map((e) => e.type);

describe('rebalance approval', () => {
  it('waits redundant for an operator, says so, and rebalances once approved', async () => {
    const clusterId = await brokenSeed();
    let statusWhileWaiting: Record<string, unknown> | undefined;
    let early: Awaited<ReturnType<typeof call>> | undefined;
    let tableWhileWaiting: unknown;
    onTask = async (task, output) => {
      if (task !== 'CheckSync' || (output as { next: string }).next !== 'await-rebalance') return;
      if (statusWhileWaiting) return;
      await runtime.poller.drain();
      statusWhileWaiting = (await call('GET', `/clusters/${clusterId}/status`)).body;
      tableWhileWaiting = (await call('GET', `/clusters/${clusterId}/configuration`)).body.table;
      early = await call('POST', `/clusters/${clusterId}/rebalance-approval`, { by: 'dba-anna' });
    };
    const started = await call('POST', `/clusters/${clusterId}/recoveries`, {
      incidentId: 'night',
      rebalancePolicy: 'approval',
      waits: ZERO,
    });
    expect(started.status).toBe(202);
    const result = await runtime.workflow.result(`${clusterId}--night`);
    expect(result?.status, JSON.stringify(result?.error)).toBe('succeeded');
    expect(statusWhileWaiting).toMatchObject({
      phase: 'awaiting-rebalance',
      recovery: { incidentId: 'night', rebalance: { policy: 'approval' } },
    });
    // Redundant while waiting: the seed's table 2, every pair in sync, roles switched; and
    // table 3 once the approved rebalance ran.
    expect(tableWhileWaiting).toBe(seedTables()[1]);
    await runtime.poller.drain();
    const config = await call('GET', `/clusters/${clusterId}/configuration`);
    expect(config.body.table).toBe(seedTables()[2]);
    expect(early).toMatchObject({
      status: 202,
      body: { incidentId: 'night', approvedBy: 'dba-anna' },
    });
    const log = await types(clusterId);
    const waited = log.indexOf('RebalanceAwaitingApproval');
    const approved = log.indexOf('RebalanceApproved');
    // Waiting begins once every pair is in sync again (four PairSynchronized before it).
    expect(log.slice(0, waited).filter((t) => t === 'PairSynchronized')).toHaveLength(4);
    expect(approved).toBeGreaterThan(waited);
    // gprecoverseg -r ran after the approval: FTS promoted the preferred primaries back.
    expect(log.lastIndexOf('MirrorPromoted')).toBeGreaterThan(approved);
    expect(log.at(-1)).toBe('RecoveryCompleted');
    const last = (await runtime.stores.events.read(clusterId)).at(-1);
    expect(last?.data).toMatchObject({ outcome: 'recovered' });
  });

  it('ends redundant and unbalanced, on record and not as a failure, when no approval comes', async () => {
    const clusterId = await brokenSeed();
    onTask = undefined;
    await call('POST', `/clusters/${clusterId}/recoveries`, {
      incidentId: 'ignored',
      rebalancePolicy: 'approval',
      waits: ZERO,
      limits: { maxRebalanceChecks: 3 },
    });
    const result = await runtime.workflow.result(`${clusterId}--ignored`);
    expect(result?.status).toBe('succeeded');
    const state = await runtime.stores.events.loadState(clusterId);
    expect(state.lastIncident).toMatchObject({ status: 'succeeded', outcome: 'unbalanced' });
    expect(state.lastIncident?.note).toMatch(/run gprecoverseg -r in a quiet hour/);
    // Redundant but unbalanced: the seed's table 2 stays.
    expect(renderConfigurationTable(configurationOf(state))).toBe(seedTables()[1]);
    const log = await types(clusterId);
    expect(log.filter((t) => t === 'RebalanceAwaitingApproval')).toHaveLength(1);
    expect(log).not.toContain('RecoveryFailed');
  });

  it('rebalances at once when the cluster policy is a window that is open now', async () => {
    const clusterId = await brokenSeed({
      rebalancePolicy: 'window',
      rebalanceWindow: 'daily 00:00-24:00 UTC',
    });
    onTask = undefined;
    await call('POST', `/clusters/${clusterId}/recoveries`, { incidentId: 'w', waits: ZERO });
    expect((await runtime.workflow.result(`${clusterId}--w`))?.status).toBe('succeeded');
    const log = await types(clusterId);
    expect(log).toContain('RebalancePolicySet');
    expect(log).not.toContain('RebalanceAwaitingApproval');
    const requested = (await runtime.stores.events.read(clusterId)).find(
      (e) => e.type === 'RecoveryRequested',
    );
    expect(requested?.data).toMatchObject({
      rebalance: { policy: 'window', window: 'daily 00:00-24:00 UTC' },
    });
    expect((await runtime.stores.events.loadState(clusterId)).lastIncident).toMatchObject({
      outcome: 'recovered',
    });
  });
});

describe('cancel, and a cluster no dead run can wedge', () => {
  it('refuses a second incident while a live run holds the cluster (409 naming it), then cancels the run', async () => {
    const clusterId = await brokenSeed();
    let busy: Awaited<ReturnType<typeof call>> | undefined;
    let cancelled: Promise<Awaited<ReturnType<typeof call>>> | undefined;
    onTask = async (task, output) => {
      if (task !== 'CheckSync' || (output as { next: string }).next !== 'await-rebalance') return;
      if (cancelled) return;
      busy = await call('POST', `/clusters/${clusterId}/recoveries`, { incidentId: 'second' });
      // The run stops while this request is still writing: the test waits for the answer.
      cancelled = call('POST', `/clusters/${clusterId}/cancellation`, {
        by: 'dba-anna',
        reason: 'peak hours',
      });
      await cancelled;
    };
    await call('POST', `/clusters/${clusterId}/recoveries`, {
      incidentId: 'first',
      rebalancePolicy: 'approval',
      waits: ZERO,
    });
    const result = await runtime.workflow.result(`${clusterId}--first`);
    expect(result?.status).toBe('aborted');
    expect(busy?.status).toBe(409);
    expect(busy?.body.error).toMatch(
      new RegExp(
        `^cluster ${clusterId} is being recovered by execution ${clusterId}--first \\(incident first\\) since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z, and it is running; .*recoverseg cancel --cluster ${clusterId}`,
      ),
    );
    expect(await cancelled).toMatchObject({
      status: 202,
      body: {
        incidentId: 'first',
        cancelledBy: 'dba-anna',
        stopped: `${clusterId}--first`,
        gprecoverseg: { running: false },
      },
    });
    const state = await runtime.stores.events.loadState(clusterId);
    expect(state.recovery).toBeUndefined();
    expect(state.lastIncident).toMatchObject({
      incidentId: 'first',
      status: 'cancelled',
      by: 'dba-anna',
      reason: 'peak hours',
    });
    expect(await runtime.stores.lock.read(clusterId)).toBeUndefined();
    expect(await types(clusterId)).not.toContain('RecoveryFailed');
    // Twice, or with nothing running: 409 and nothing written.
    const seq = state.seq;
    const again = await call('POST', `/clusters/${clusterId}/cancellation`, {});
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/has no recovery in progress .*cancelled/);
    expect((await call('POST', '/clusters/ghost/cancellation', {})).status).toBe(404);
    expect((await runtime.stores.events.readHead(clusterId)).lastSeq).toBe(seq);
    // The next recovery runs: it rebalances the still switched roles.
    onTask = undefined;
    const next = await call('POST', `/clusters/${clusterId}/recoveries`, {
      incidentId: 'after',
      waits: ZERO,
    });
    expect(next.status).toBe(202);
    expect((await runtime.workflow.result(`${clusterId}--after`))?.status).toBe('succeeded');
  });

  /** What a serve killed with SIGKILL mid-run leaves: an open recovery, a lock nobody runs. */
  async function leftByADeadServe(clusterId: string) {
    const holder = `arn:aws:states:local:000000000000:execution:recoverseg:${clusterId}--killed`;
    await runtime.stores.lock.acquire(clusterId, holder, 'killed', 1_700_000_000, 8 * 24 * 3600);
    const head = await runtime.stores.events.readHead(clusterId);
    await runtime.stores.events.append(
      clusterId,
      [
        {
          type: 'RecoveryRequested',
          data: {
            incidentId: 'killed',
            trigger: { source: 'cli' },
            options: recoveryOptionsSchema.parse({}),
          },
        },
      ],
      { expectedSeq: head.lastSeq, idempotencyKey: 'killed', at: new Date().toISOString() },
    );
  }

  it('supersedes a dead holder on record and starts the new run (202, and it runs)', async () => {
    const clusterId = await brokenSeed();
    await leftByADeadServe(clusterId);
    const started = await call('POST', `/clusters/${clusterId}/recoveries`, {
      incidentId: 'new',
      waits: ZERO,
    });
    expect(started).toMatchObject({ status: 202, body: { alreadyStarted: false } });
    expect((await runtime.workflow.result(`${clusterId}--new`))?.status).toBe('succeeded');
    const log = await runtime.stores.events.read(clusterId);
    const abandoned = log.find((e) => e.type === 'RecoveryFailed');
    expect(abandoned?.data).toMatchObject({ incidentId: 'killed' });
    expect((abandoned?.data as { reason: string }).reason).toMatch(
      new RegExp(
        `^abandoned: its run ended without closing it \\(execution ${clusterId}--killed is NOT_RUNNING_IN_THIS_PROCESS\\); superseded by incident new$`,
      ),
    );
    expect(log.at(-1)?.type).toBe('RecoveryCompleted');
  });
});
