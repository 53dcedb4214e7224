import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import type { Context } from 'aws-lambda';
import { beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import type { NewEvent, RecoveryPolicy } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';
import type { WatchRequest } from '#domain/watch.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import {
  context,
  lambdaEnvironment,
  logItems,
  seedRegistration,
  STATE_MACHINE_ARN,
  TABLES,
  TOPIC_ARN,
} from './support.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);

type Handler = (event: unknown, context: Context) => Promise<Record<string, unknown>>;

/** The deployed module, imported afresh so that it reads the environment as set now. */
async function handler(): Promise<Handler> {
  return ((await import('#lambdas/watch-cluster.ts')) as unknown as { handler: Handler }).handler;
}

/**
 * The Control table's simulated-cluster items (`sim#<cluster>`), kept as the real simulated
 * store writes and reads them; everything else the handler writes is only recorded.
 */
const control = new Map<string, Record<string, unknown>>();
const keyOf = (item: Record<string, unknown>) => `${String(item.pk)}|${String(item.sk)}`;

function storeControl() {
  ddb.on(TransactWriteCommand).callsFake((input: TransactWriteCommandInput) => {
    for (const { Put, Delete } of input.TransactItems ?? []) {
      if (Put?.TableName === TABLES.control) control.set(keyOf(Put.Item!), Put.Item!);
      if (Delete?.TableName === TABLES.control) control.delete(keyOf(Delete.Key!));
    }
    return {};
  });
  ddb.on(QueryCommand, { TableName: TABLES.control }).callsFake((input: QueryCommandInput) => ({
    Items: [...control.values()].filter(
      (item) => item.pk === input.ExpressionAttributeValues?.[':pk'],
    ),
  }));
}

/** The event log of the seed cluster, as the document client returns it. */
function logHolds(events: NewEvent[]) {
  const items = logItems('seed', events);
  ddb
    .on(GetCommand, { TableName: TABLES.eventLog, Key: { clusterId: 'seed', seq: 0 } })
    .resolves({ Item: { clusterId: 'seed', seq: 0, lastSeq: items.length } });
  ddb.on(QueryCommand, { TableName: TABLES.eventLog }).resolves({ Items: items });
}

/**
 * The seed cluster registered under `policy`, seen whole once (that first look recorded its
 * standby streaming in sync, as the simulator answers), then segment-2 powered off.
 */
async function seedWithHostDown(policy?: RecoveryPolicy): Promise<NewEvent[]> {
  const sim = new SimulatedCluster({
    doc: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    tables: TABLES,
    clusterId: 'seed',
    clock: Date.now,
  });
  await sim.create(structuredClone(seedScenario.segments) as SegmentRow[], { timeScale: 0 });
  const standby = await sim.readStandbyReplication();
  await sim.failHost('segment-2');
  return [
    ...seedRegistration(),
    ...(policy ? [{ type: 'RecoveryPolicySet' as const, data: { policy } }] : []),
    {
      type: 'StandbySyncObserved',
      data: {
        standbyDbid: 10,
        replication: standby,
      },
    },
    { type: 'ClusterSeenWhole', data: {} },
  ];
}

/** The EMF documents Powertools printed, parsed. */
let log: MockInstance;
const emf = () =>
  log.mock.calls
    .map(([line]) => String(line))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** What the schedule sends, as the stack builds it (test/infra/watcher.test.ts). */
const scheduled: WatchRequest = { clusterId: 'seed' };

beforeEach(() => {
  vi.resetModules();
  lambdaEnvironment({ POWERTOOLS_METRICS_DISABLED: 'false' });
  ddb.reset();
  sfn.reset();
  sns.reset();
  control.clear();
  ddb.on(GetCommand).resolves({});
  storeControl();
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  log = vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

describe('WatchCluster, invoked by the schedule', () => {
  it('under auto: records the failover, starts one execution as the watcher, and publishes the counts per cluster', async () => {
    logHolds(await seedWithHostDown('auto'));
    const report = await (await handler())(scheduled, context('WatchCluster'));
    expect(report).toMatchObject({
      clusterId: 'seed',
      action: 'start',
      recorded: 4,
      started: { incidentId: 'watch-8', executionName: 'seed--watch-8' },
    });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'seed--watch-8',
    });
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!);
    expect(input).toMatchObject({ clusterId: 'seed', trigger: { source: 'watch' } });
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    const appended = ddb
      .commandCalls(TransactWriteCommand)
      .flatMap((c) => c.args[0].input.TransactItems ?? [])
      .filter((i) => i.Put?.TableName === TABLES.eventLog)
      .map((i) => i.Put!.Item!.type);
    expect(appended).toEqual([
      'SegmentMarkedDown',
      'SegmentMarkedDown',
      'MirrorPromoted',
      'MirrorPromoted',
    ]);
    const [metrics, ...more] = emf();
    expect(more).toEqual([]);
    expect(metrics).toMatchObject({
      ClusterId: 'seed',
      service: 'recoverseg',
      SegmentsDown: 4,
      PairsNotInSync: 4,
      ContentsSwitched: 2,
      DoubleFaults: 0,
      SecondsSinceWhole: 0,
      WatcherErrors: 0,
    });
    const [directive] = (metrics!._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] })
      .CloudWatchMetrics;
    expect(directive!.Dimensions[0]!.sort()).toEqual(['ClusterId', 'service']);
  });

  it.each([
    ['notify', 'notify'],
    ['no policy set (notify, the default)', undefined],
  ] as const)('under %s: publishes a notice on SNS and starts nothing', async (_name, policy) => {
    logHolds(await seedWithHostDown(policy));
    expect(await (await handler())(scheduled, context())).toMatchObject({
      action: 'notify',
      notified: true,
    });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC_ARN,
      MessageAttributes: {
        clusterId: { DataType: 'String', StringValue: 'seed' },
        status: { DataType: 'String', StringValue: 'detected' },
      },
    });
  });

  it('under off: starts nothing and sends nothing, and still publishes the counts', async () => {
    logHolds(await seedWithHostDown('off'));
    expect(await (await handler())(scheduled, context())).toMatchObject({ action: 'record' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(emf()[0]).toMatchObject({ SegmentsDown: 4, WatcherErrors: 0 });
  });

  it('a double fault under auto: notified with the way out, never started', async () => {
    const events = await seedWithHostDown('auto');
    // Content 1's mirror (dbid 7, on segment-2) was down on record before its primary's host died.
    const sim = new SimulatedCluster({
      doc: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
      tables: TABLES,
      clusterId: 'seed',
      clock: Date.now,
    });
    await sim.requestFtsProbe();
    await sim.failHost('segment-1');
    logHolds([
      ...events,
      { type: 'SegmentMarkedDown', data: { dbid: 6 } },
      { type: 'SegmentMarkedDown', data: { dbid: 7 } },
      { type: 'MirrorPromoted', data: { content: 2, promotedDbid: 8, demotedDbid: 4 } },
      { type: 'MirrorPromoted', data: { content: 3, promotedDbid: 9, demotedDbid: 5 } },
      {
        type: 'RecoveryRequested',
        data: {
          incidentId: 'watch-8',
          trigger: { source: 'watch' },
          options: {
            type: 'auto',
            targetHosts: {},
            rebalance: true,
            dryRun: false,
            replayLagGb: 10,
          },
        },
      },
      {
        type: 'RecoveryFailed',
        data: { incidentId: 'watch-8', phase: 'recover', reason: 'host segment-2 gone' },
      },
    ]);
    expect(await (await handler())(scheduled, context())).toMatchObject({
      action: 'notify-double-fault',
      counts: { doubleFaults: 4 },
    });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    const message = JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!);
    expect(message.reason).toMatch(/run gpstop -a -M fast, then gpstart -a/);
    expect(emf()[0]).toMatchObject({ DoubleFaults: 4, WatcherErrors: 0 });
  });

  it('publishes WatcherErrors 1 for a look that fails, and fails the invocation with its name', async () => {
    logHolds([]);
    await expect((await handler())(scheduled, context())).rejects.toMatchObject({
      name: 'UnknownCluster',
    });
    const [metrics] = emf();
    expect(metrics).toMatchObject({ ClusterId: 'seed', WatcherErrors: 1 });
    expect(metrics).not.toHaveProperty('SegmentsDown');
    expect(sfn.calls()).toHaveLength(0);
  });

  it.each([
    // Middy hands the handler an empty object for no payload.
    ['no payload', 'event.clusterId', undefined],
    ['a payload that is not an object', 'event', 'seed'],
    ['no cluster', 'event.clusterId', {}],
    ['a cluster id with a path in it', 'event.clusterId', { clusterId: '../etc' }],
    ['an oversized cluster id', 'event.clusterId', { clusterId: 'c'.repeat(100_000) }],
    ['a field the schedule never sends', 'event', { clusterId: 'seed', policy: 'auto' }],
  ])(
    'refuses %s with a ValidationError naming %s, before any AWS call',
    async (_what, path, payload) => {
      await expect((await handler())(payload, context())).rejects.toMatchObject({
        name: 'ValidationError',
        path,
        message: expect.stringContaining(`${path}: `),
      });
      expect(ddb.calls()).toHaveLength(0);
      expect(sfn.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    },
  );
});
