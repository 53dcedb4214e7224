import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SimulatedClusterExists,
  SimulatedClusterNotFound,
  UnknownHost,
} from '#cluster/simulated/errors.ts';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import { InvalidTopology } from '#domain/errors.ts';
import { configurationProblems } from '#domain/invariants.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import { localDynamo, type LocalDynamo } from '#test/support.ts';
import { planFor } from '#test/unit/cluster/simulated/helpers.ts';
import {
  groupMirroredCluster,
  SEED_TABLES,
  seedCluster,
} from '#test/unit/cluster/simulated/clusters.ts';

let dynamo: LocalDynamo;
let counter = 0;

beforeAll(async () => {
  dynamo = await localDynamo('simulated');
});

/** Instances of one simulated cluster sharing a clock, as separate processes would share one. */
function cluster(options: { chunkBytes?: number } = {}) {
  const clusterId = `sim-${++counter}`;
  const clock = { now: 0 };
  const instance = () =>
    new SimulatedCluster({
      doc: dynamo.doc,
      tables: dynamo.tables,
      clusterId,
      clock: () => clock.now,
      ...options,
    });
  return { clusterId, clock, instance };
}

async function storedItems(clusterId: string) {
  const { Items = [] } = await dynamo.doc.send(
    new QueryCommand({
      TableName: dynamo.tables.control,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `sim#${clusterId}` },
    }),
  );
  return Items;
}

describe('SimulatedCluster on DynamoDB Local', () => {
  it('runs the seed incident through the port, shared by two instances', async () => {
    const { clock, instance } = cluster();
    const operator = instance();
    const workflow = instance();
    await operator.create(seedCluster(), { seed: 1 });
    await operator.failHost('segment-2');
    clock.now = 1_000;
    await workflow.requestFtsProbe();
    const table = async () =>
      renderConfigurationTable((await operator.readConfiguration()).segments);
    // Inside FTS's mirror-down grace period (captures 23, 26): segment-2's mirrors still show
    // u and their pairs s, but no pair has a walsender.
    const inGrace = (await operator.readConfiguration()).segments.filter((r) => r.content <= 1);
    expect(
      inGrace.filter((r) => r.content >= 0).map((r) => `${r.dbid}:${r.status}${r.mode}`),
    ).toEqual(['2:us', '6:us', '3:us', '7:us']);
    expect((await operator.readReplication()).map((r) => r.state)).toEqual(
      Array(4).fill(undefined),
    );
    clock.now = 30_999;
    await workflow.requestFtsProbe();
    expect((await operator.readConfiguration()).segments.find((r) => r.dbid === 6)?.status).toBe(
      'u',
    );
    // After it (captures 30b, 30f): marked down, the seed's table 1.
    clock.now = 31_000;
    await workflow.requestFtsProbe();
    expect(await table()).toBe(SEED_TABLES.promoted);
    expect(await operator.readConfiguration()).toMatchObject({
      unresponsive: [],
      doubleFaults: [],
    });

    const plan = planFor({ catalog: (await workflow.readConfiguration()).segments });
    const handle = await workflow.startRecovery(plan, 'incident-1/recover');
    expect(await operator.startRecovery(plan, 'incident-1/recover')).toEqual(handle);
    clock.now = 32_000;
    const status = await operator.pollOperation(handle);
    expect(status).toMatchObject({ done: true, recovered: [6, 7, 4, 5], failures: [] });
    expect((await workflow.readReplication()).every((r) => r.state === 'catchup')).toBe(true);

    clock.now = 35_000;
    expect((await workflow.readReplication()).map((r) => r.walRemainingBytes)).toEqual([
      0, 0, 0, 0,
    ]);
    await workflow.requestFtsProbe();
    expect(await table()).toBe(SEED_TABLES.synchronized);

    const rebalance = await workflow.startRebalance({ replayLagGb: 10 }, 'incident-1/rebalance');
    // FTS has marked the preferred primaries acting again; for 5 s they answer "mirror ready"
    // (capture 103), have no walsender, and gprecoverseg -r waits for them before it copies.
    clock.now = 39_999;
    expect(await operator.readConfiguration()).toMatchObject({
      unresponsive: [],
      notReady: [
        { dbid: 4, answer: 'mirror-ready' },
        { dbid: 5, answer: 'mirror-ready' },
      ],
      doubleFaults: [],
    });
    expect((await operator.readReplication()).map((r) => r.state)).toEqual([
      'streaming',
      'streaming',
      undefined,
      undefined,
    ]);
    expect(await operator.pollOperation(rebalance)).toMatchObject({ done: false, progress: [] });
    clock.now = 43_000;
    expect((await operator.readConfiguration()).notReady).toEqual([]);
    expect(await operator.pollOperation(rebalance)).toMatchObject({
      done: true,
      recovered: [8, 9],
    });
    clock.now = 46_000;
    await operator.requestFtsProbe();
    expect(await table()).toBe(SEED_TABLES.rebalanced);
  });

  it('refuses a second create, an invalid topology, and calls on a cluster that does not exist', async () => {
    const { instance } = cluster();
    await expect(instance().readConfiguration()).rejects.toThrow(SimulatedClusterNotFound);
    await expect(instance().failHost('segment-2')).rejects.toThrow(SimulatedClusterNotFound);
    const broken = seedCluster().filter((r) => r.dbid !== 2);
    await expect(instance().create(broken)).rejects.toThrow(InvalidTopology);
    await instance().create(seedCluster());
    await expect(instance().create(seedCluster())).rejects.toThrow(SimulatedClusterExists);
    await expect(instance().failHost('segment-9')).rejects.toThrow(UnknownHost);
  });

  it('refuses faults on unknown objects and malformed options by name, writing nothing', async () => {
    const { clusterId, instance } = cluster();
    await expect(
      instance().create(seedCluster(), { mirrorDownGracePeriodSeconds: -1 }),
    ).rejects.toThrow(
      expect.objectContaining({
        name: 'ValidationError',
        path: 'simulation.mirrorDownGracePeriodSeconds',
      }),
    );
    expect(await storedItems(clusterId)).toEqual([]);
    await instance().create(seedCluster());
    const before = await storedItems(clusterId);
    await expect(instance().failHost('segment-9')).rejects.toThrow(
      expect.objectContaining({
        name: 'UnknownHost',
        message: expect.stringContaining('segment-9'),
      }),
    );
    await expect(instance().crashSegment(42)).rejects.toThrow(
      expect.objectContaining({
        name: 'UnknownSegment',
        message: expect.stringContaining('dbid 42'),
      }),
    );
    await expect(instance().loseDataDirectory(1)).rejects.toThrow(
      expect.objectContaining({ name: 'UnsupportedFault' }),
    );
    expect(await storedItems(clusterId)).toEqual(before);
  });

  it('loses no update when many instances change the cluster at once', async () => {
    const { instance } = cluster();
    const segments = groupMirroredCluster(4, 4);
    await instance().create(segments, { timeScale: 0 });
    const mirrors = segments.filter((r) => r.role === 'm').map((r) => r.dbid);
    await Promise.all(mirrors.map((dbid) => instance().crashSegment(dbid)));
    const state = await instance().readState();
    expect(mirrors.filter((dbid) => state.processes[dbid]?.running)).toEqual([]);
    await instance().requestFtsProbe();
    const rows = (await instance().readConfiguration()).segments;
    expect(rows.filter((r) => r.role === 'm' && r.status === 'd')).toHaveLength(mirrors.length);
    expect(configurationProblems(rows)).toEqual([]);
  });

  it('starts one run when a start is retried concurrently with the same key', async () => {
    const { instance } = cluster();
    await instance().create(seedCluster());
    await instance().failHost('segment-2');
    await instance().requestFtsProbe();
    const plan = planFor({ catalog: (await instance().readConfiguration()).segments });
    const handles = await Promise.all(
      Array.from({ length: 5 }, () => instance().startRecovery(plan, 'same-key')),
    );
    expect(new Set(handles.map((h) => h.operationId))).toEqual(new Set(['recovery-1']));
    expect((await instance().readState()).operations).toHaveLength(1);
  });

  it('chunks the state of a cluster with thousands of segments', async () => {
    const { clusterId, instance } = cluster();
    const segments = groupMirroredCluster(40, 50);
    expect(segments).toHaveLength(4001);
    await instance().create(segments, { timeScale: 0 });
    await instance().failHost('sdw7');
    await instance().requestFtsProbe();
    const plan = planFor({ catalog: (await instance().readConfiguration()).segments });
    expect(plan).toHaveLength(100);
    await instance().startRecovery(plan, 'big');
    const rows = (await instance().readConfiguration()).segments;
    expect(rows).toHaveLength(4001);
    expect(rows.filter((r) => r.mode === 's')).toHaveLength(4000);
    expect(rows.filter((r) => r.content >= 0 && r.role !== r.preferred_role)).toHaveLength(100);
    // About 1 MB of JSON: gzip keeps it in one item; the next test forces several.
    const head = (await storedItems(clusterId)).find((item) => item.sk === 'state');
    expect(head?.bytes).toBeLessThan(350_000);
  });

  it('splits across many items and removes the ones a smaller state no longer needs', async () => {
    const { clusterId, instance, clock } = cluster();
    const small = () =>
      new SimulatedCluster({
        doc: dynamo.doc,
        tables: dynamo.tables,
        clusterId,
        clock: () => clock.now,
        chunkBytes: 500,
      });
    await small().create(groupMirroredCluster(8, 8));
    const chunked = (await storedItems(clusterId)).filter((item) =>
      String(item.sk).startsWith('chunk#'),
    );
    expect(chunked.length).toBeGreaterThan(3);
    await small().crashSegment(70);
    expect((await small().readState()).processes['70']?.running).toBe(false);

    await instance().crashSegment(71);
    const items = await storedItems(clusterId);
    expect(items.filter((item) => String(item.sk).startsWith('chunk#'))).toHaveLength(1);
    const state = await small().readState();
    expect([state.processes['70']?.running, state.processes['71']?.running]).toEqual([
      false,
      false,
    ]);
  });
});
