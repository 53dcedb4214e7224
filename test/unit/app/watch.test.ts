import { beforeEach, describe, expect, it } from 'vitest';
import type { ClusterOperations } from '#cluster/port.ts';
import type { NewEvent, RecoveryPolicy, StandbyReplication } from '#domain/events.ts';
import { recoveryOptionsSchema } from '#domain/events.ts';
import { UnknownCluster } from '#domain/errors.ts';
import type { StorePorts } from '#store/ports.ts';
import { watchCluster, type WatchDeps } from '#app/watch.ts';
import { RecordingStarter } from '#test/unit/api/support.ts';
import { FIXED, stepsHarness, type StepsHarness } from './steps-harness.ts';

let h: StepsHarness;
let starter: RecordingStarter;
let deps: WatchDeps;
let clock: Date;
let n = 0;
const fresh = () => `w${++n}`;

beforeEach(() => {
  h = stepsHarness();
  starter = new RecordingStarter();
  clock = FIXED;
  deps = {
    stores: h.stores,
    cluster: h.sim,
    notifier: h.notifier,
    starter,
    now: () => clock,
  };
});

const look = (clusterId: string, over: Partial<WatchDeps> = {}) =>
  watchCluster({ ...deps, ...over }, clusterId);
const head = async (clusterId: string) => (await h.stores.events.readHead(clusterId)).lastSeq;
const types = async (clusterId: string, afterSeq = 0) =>
  (await h.stores.events.read(clusterId, { afterSeq })).map((e) => e.type);

async function append(clusterId: string, events: NewEvent[]) {
  await h.stores.events.append(clusterId, events, {
    expectedSeq: await head(clusterId),
    idempotencyKey: `test@${await head(clusterId)}`,
    at: clock.toISOString(),
  });
}

/**
 * A segment dies: the simulator has no FTS probe interval of its own, so its FTS marks the
 * segment down at the probe that Greenplum's FTS would make within gp_fts_probe_interval.
 */
async function crash(clusterId: string, dbid: number) {
  await h.sim(clusterId).crashSegment(dbid);
  await h.sim(clusterId).requestFtsProbe();
}

/**
 * The seed cluster, registered under `policy` and seen whole once by the watcher, whose first
 * look also records the simulated standby (dbid 10) streaming in sync.
 */
async function watched(policy?: RecoveryPolicy): Promise<string> {
  const id = fresh();
  await h.seed(id);
  if (policy) await append(id, [{ type: 'RecoveryPolicySet', data: { policy } }]);
  const seq = await head(id);
  expect(await look(id)).toMatchObject({ action: 'seen-whole', recorded: 2 });
  expect(await types(id, seq)).toEqual(['StandbySyncObserved', 'ClusterSeenWhole']);
  return id;
}

const requested = (incidentId: string): NewEvent => ({
  type: 'RecoveryRequested',
  data: { incidentId, trigger: { source: 'watch' }, options: recoveryOptionsSchema.parse({}) },
});

describe('a look that sees nothing new writes nothing', () => {
  it('records ClusterSeenWhole once; the looks after it write, send and start nothing', async () => {
    const id = await watched('auto');
    const seq = await head(id);
    for (let i = 0; i < 5; i++)
      expect(await look(id)).toMatchObject({
        action: 'record',
        recorded: 0,
        whole: true,
        secondsSinceWhole: 0,
        probed: false,
        counts: { segmentsDown: 0, pairsNotInSync: 0, contentsSwitched: 0, doubleFaults: 0 },
      });
    expect(await head(id)).toBe(seq);
    expect(h.notifier.sent).toEqual([]);
    expect(starter.calls).toEqual([]);
  });

  it('refuses a cluster the log does not know, writing nothing', async () => {
    await expect(look('ghost')).rejects.toThrow(UnknownCluster);
    expect(await head('ghost')).toBe(0);
  });
});

describe('a failed host', () => {
  it('under notify (the default): records the failover after an FTS probe, notifies once with what to run, starts nothing', async () => {
    const id = await watched();
    const seq = await head(id);
    await h.sim(id).failHost('segment-2');
    const report = await look(id);
    expect(report).toMatchObject({
      action: 'notify',
      notified: true,
      probed: true,
      whole: false,
      counts: { segmentsDown: 4, pairsNotInSync: 4, contentsSwitched: 2, doubleFaults: 0 },
      secondsSinceWhole: 0,
    });
    expect(await types(id, seq)).toEqual([
      'SegmentMarkedDown',
      'SegmentMarkedDown',
      'MirrorPromoted',
      'MirrorPromoted',
    ]);
    expect(h.notifier.sent).toEqual([
      {
        clusterId: id,
        incidentId: `watch-${seq + 4}`,
        status: 'detected',
        reason: expect.stringMatching(
          new RegExp(
            `^cluster ${id}: down: dbid 6 \\(content 0, segment-2:10500\\), .*; acting primary off its preferred role: dbid 8 .*its recovery policy is notify, so nothing was started: start a recovery with recoverseg recover --cluster ${id}`,
          ),
        ),
      },
    ]);
    expect(starter.calls).toEqual([]);
    clock = new Date(FIXED.getTime() + 90_000);
    expect(await look(id)).toMatchObject({ action: 'record', recorded: 0, secondsSinceWhole: 90 });
    expect(h.notifier.sent).toHaveLength(1);
  });

  it('under off: records the failover, notifies and starts nothing', async () => {
    const id = await watched('off');
    await h.sim(id).failHost('segment-2');
    expect(await look(id)).toMatchObject({ action: 'record', recorded: 4 });
    expect(h.notifier.sent).toEqual([]);
    expect(starter.calls).toEqual([]);
  });

  it('under auto: starts one recovery through the starter, as the watcher, named after the head', async () => {
    const id = await watched('auto');
    await h.sim(id).failHost('segment-2');
    const report = await look(id);
    const incidentId = `watch-${await head(id)}`;
    expect(report).toMatchObject({
      action: 'start',
      outcome: 'done',
      started: { incidentId, executionName: `${id}--${incidentId}`, alreadyStarted: false },
    });
    expect(starter.calls).toEqual([
      expect.objectContaining({
        clusterId: id,
        incidentId,
        trigger: {
          source: 'watch',
          detail: 'watcher: 4 segments down, 4 pairs not in sync, 2 contents switched',
        },
        failedHosts: [],
      }),
    ]);
    // The rebalance follows the cluster's policy or the unattended default, decided by StartRecovery.
    expect(starter.calls[0]!.options.rebalancePolicy).toBeUndefined();
    expect(h.notifier.sent).toEqual([]);
  });
});

describe('one run per cluster: a storm of looks starts nothing twice', () => {
  it('100 looks while the run holds the lock start nothing and write nothing', async () => {
    const id = await watched('auto');
    await h.sim(id).failHost('segment-2');
    const { started } = await look(id);
    await h.stores.lock.acquire(id, started!.executionArn, started!.incidentId, 0, 3600);
    starter.live.add(started!.executionArn);
    await append(id, [requested(started!.incidentId)]);
    const seq = await head(id);
    for (let i = 0; i < 100; i++)
      expect(await look(id)).toMatchObject({ action: 'leave-to-run', recorded: 0 });
    expect(starter.calls).toHaveLength(1);
    expect(await head(id)).toBe(seq);
  });

  it('100 looks before the run takes the lock ask for the one execution name, which starts once', async () => {
    const id = await watched('auto');
    await h.sim(id).failHost('segment-2');
    const reports = [];
    for (let i = 0; i < 100; i++) reports.push(await look(id));
    expect(new Set(reports.map((r) => r.started?.executionName)).size).toBe(1);
    expect(reports.filter((r) => r.started?.alreadyStarted === false)).toHaveLength(1);
    expect(starter.started.size).toBe(1);
  });
});

describe('auto never starts what an operator must decide', () => {
  it('a double fault: recorded and notified once with the way out, never started', async () => {
    const id = await watched('auto');
    await crash(id, 7);
    const { started } = await look(id);
    // Its run failed on record (RecordFailure notified), then the primary's host died too.
    await append(id, [
      requested(started!.incidentId),
      {
        type: 'RecoveryFailed',
        data: { incidentId: started!.incidentId, phase: 'recover', reason: 'pg_rewind failed' },
      },
    ]);
    starter.calls.length = 0;
    await h.sim(id).failHost('segment-1');
    expect(await look(id)).toMatchObject({
      action: 'notify-double-fault',
      notified: true,
      counts: { doubleFaults: 1 },
    });
    expect(await types(id)).toContain('DoubleFaultDetected');
    expect(h.notifier.sent.at(-1)).toMatchObject({
      status: 'detected',
      reason: expect.stringMatching(
        /^cluster w\d+: content 1: double fault .*run gpstop -a -M fast, then gpstart -a, then start a recovery again/,
      ),
    });
    expect(await look(id)).toMatchObject({ action: 'record', recorded: 0 });
    expect(starter.calls).toEqual([]);
    expect(h.notifier.sent).toHaveLength(1);
  });

  it('a run that failed after the fault answered it: nothing starts until a new fault', async () => {
    const id = await watched('auto');
    await crash(id, 7);
    const { started } = await look(id);
    await append(id, [
      requested(started!.incidentId),
      {
        type: 'RecoveryFailed',
        data: { incidentId: started!.incidentId, phase: 'recover', reason: 'pg_rewind failed' },
      },
    ]);
    expect(await look(id)).toMatchObject({ action: 'record', recorded: 0 });
    expect(starter.calls).toHaveLength(1);
    await crash(id, 6);
    expect(await look(id)).toMatchObject({ action: 'start', started: { alreadyStarted: false } });
    expect(starter.calls).toHaveLength(2);
  });

  it('an operator cancelled the run: the watcher does not start it again', async () => {
    const id = await watched('auto');
    await crash(id, 7);
    const { started } = await look(id);
    await append(id, [
      requested(started!.incidentId),
      {
        type: 'RecoveryCancelled',
        data: { incidentId: started!.incidentId, by: 'dba', reason: 'maintenance' },
      },
    ]);
    for (let i = 0; i < 3; i++) expect(await look(id)).toMatchObject({ action: 'record' });
    expect(starter.calls).toHaveLength(1);
  });
});

describe('dead holders are checked as the API checks them', () => {
  it('a run whose execution is gone is closed on record as abandoned, then a new run starts', async () => {
    const id = await watched('auto');
    await append(id, [requested('old')]);
    await h.stores.lock.acquire(id, 'arn:aws:states:::execution:x:old', 'old', 0, 3600);
    await h.sim(id).failHost('segment-2');
    expect(await look(id)).toMatchObject({ action: 'start', outcome: 'done' });
    const log = await h.stores.events.read(id);
    expect(log.at(-1)).toMatchObject({
      type: 'RecoveryFailed',
      data: { incidentId: 'old', reason: expect.stringMatching(/^abandoned: .*the watcher/) },
    });
    expect(await h.stores.lock.read(id)).toBeUndefined();
    expect(starter.calls).toHaveLength(1);
  });
});

describe('a look that loses a race with another writer', () => {
  it('stands down: it records, notifies and starts nothing, and the next look decides afresh', async () => {
    const id = await watched('auto');
    await h.sim(id).failHost('segment-2');
    const racing: StorePorts = {
      ...h.stores,
      events: Object.create(h.stores.events, {
        append: {
          value: async (...args: Parameters<StorePorts['events']['append']>) => {
            await append(id, [
              { type: 'RebalancePolicySet', data: { setting: { policy: 'never' } } },
            ]);
            return h.stores.events.append(...args);
          },
        },
      }),
    };
    const seq = await head(id);
    expect(await look(id, { stores: racing })).toMatchObject({
      action: 'start',
      outcome: 'stood-down',
      recorded: 0,
    });
    expect(await types(id, seq)).toEqual(['RebalancePolicySet']);
    expect(starter.calls).toEqual([]);
    expect(await look(id)).toMatchObject({ action: 'start', outcome: 'done', recorded: 4 });
  });
});

describe("the simulated standby's replication, as the watcher records it", () => {
  const replications = async (clusterId: string, afterSeq: number) =>
    (await h.stores.events.read(clusterId, { afterSeq })).map((e) =>
      e.type === 'StandbySyncObserved' ? e.data.replication : e.type,
    );

  it('a killed standby: one record of no walsender (captures 151, 153), then nothing', async () => {
    const id = await watched();
    const seq = await head(id);
    await h.sim(id).crashSegment(10);
    expect(await look(id)).toMatchObject({ action: 'record', recorded: 1, whole: true });
    expect(await look(id)).toMatchObject({ recorded: 0 });
    expect(await replications(id, seq)).toEqual([{ state: 'absent' }]);
  });

  it('a lagging standby: one record of it catching up, behind the coordinator', async () => {
    const id = await watched();
    const seq = await head(id);
    await h.sim(id).lagStandby(10, 1_048_576);
    expect(await look(id)).toMatchObject({ recorded: 1 });
    expect(await look(id)).toMatchObject({ recorded: 0 });
    expect(await replications(id, seq)).toEqual([
      {
        state: 'catchup',
        syncState: 'potential',
        sentLocation: '0/C100000',
        flushLocation: '0/C000000',
        replayLocation: '0/C000000',
      },
    ]);
  });
});

describe("the standby's replication, recorded only when it changes", () => {
  /** The seed (standby dbid 10) read through a coordinator whose walsender answers `walsender`. */
  let walsender: StandbyReplication;
  const withStandby = (clusterId: string): ClusterOperations =>
    Object.assign(Object.create(h.sim(clusterId)) as ClusterOperations, {
      readStandbyReplication: () => Promise.resolve(walsender),
    });
  const observations = async (clusterId: string) =>
    (await h.stores.events.read(clusterId)).flatMap((e) =>
      e.type === 'StandbySyncObserved' ? [{ ...e.data, at: e.at }] : [],
    );

  beforeEach(() => {
    walsender = { state: 'streaming', syncState: 'sync', sentLocation: '0/C000000' };
  });

  it('records the first look, then nothing while WAL locations move, then a dead standby, then its return', async () => {
    const id = fresh();
    await h.seed(id);
    const watch = () => look(id, { cluster: withStandby });
    expect(await watch()).toMatchObject({ action: 'seen-whole', recorded: 2 });
    const seq = await head(id);
    walsender = { ...walsender, sentLocation: '0/D000000' };
    clock = new Date(FIXED.getTime() + 20_000);
    expect(await watch()).toMatchObject({ recorded: 0 });
    expect(await head(id)).toBe(seq);
    walsender = { state: 'absent' };
    expect(await watch()).toMatchObject({ recorded: 1 });
    expect(await watch()).toMatchObject({ recorded: 0 });
    walsender = { state: 'streaming', syncState: 'sync' };
    expect(await watch()).toMatchObject({ recorded: 1 });
    expect((await observations(id)).map((o) => [o.standbyDbid, o.replication.state])).toEqual([
      [10, 'streaming'],
      [10, 'absent'],
      [10, 'streaming'],
    ]);
  });

  it('a standby in sync as on record is not recorded again, however long (no event per look)', async () => {
    const id = fresh();
    await h.seed(id);
    const watch = () => look(id, { cluster: withStandby });
    await watch();
    clock = new Date(FIXED.getTime() + 3_600_000);
    expect(await watch()).toMatchObject({ recorded: 0 });
    expect((await observations(id)).map((o) => o.at)).toEqual([FIXED.toISOString()]);
  });

  it('a stale standby is not vouched for again: one record while it stays behind', async () => {
    const id = fresh();
    await h.seed(id);
    walsender = { state: 'catchup', syncState: 'async' };
    const watch = () => look(id, { cluster: withStandby });
    await watch();
    clock = new Date(FIXED.getTime() + 600_000);
    expect(await watch()).toMatchObject({ recorded: 0 });
    expect(await observations(id)).toHaveLength(1);
  });
});
