import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStores } from '#store/memory.ts';
import type { EventStorePort, StorePorts } from '#store/ports.ts';
import { recoveryOptionsSchema } from '#domain/events.ts';
import { startFromTrigger } from '#app/start-from-trigger.ts';
import { CLUSTER_TAG, decideTrigger, HOST_TAG, type InstanceTags } from '#app/triggers.ts';
import { seedIncidentPhases } from '#test/fixtures/seed.ts';
import { RecordingStarter } from '#test/unit/api/support.ts';

const alarm = (alarmName: string, value = 'ALARM', time = '2024-12-23T12:03:17Z') => ({
  version: '0',
  id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
  source: 'aws.cloudwatch',
  'detail-type': 'CloudWatch Alarm State Change',
  account: '123456789012',
  time,
  region: 'us-east-1',
  resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`],
  detail: {
    alarmName,
    state: { value, reason: 'Threshold Crossed', timestamp: time },
    previousState: { value: 'OK' },
  },
});

const INSTANCE = 'i-0123456789abcdef0';
const ec2 = (state = 'stopped', time = '2024-12-23T12:03:17Z', instanceId = INSTANCE) => ({
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  source: 'aws.ec2',
  'detail-type': 'EC2 Instance State-change Notification',
  account: '123456789012',
  time,
  region: 'us-east-1',
  resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
  detail: { 'instance-id': instanceId, state },
});

const tagged: InstanceTags = async (id) =>
  id === INSTANCE
    ? { [CLUSTER_TAG]: 'seed', [HOST_TAG]: 'segment-2', Name: 'sdw2' }
    : ({} as Record<string, string>);
const noTags: InstanceTags = async () => ({});

describe('decideTrigger: which EventBridge events start a recovery', () => {
  it('starts for an alarm in ALARM named recoverseg/<cluster>/..., with the incident of its 10-minute window', async () => {
    expect(await decideTrigger(alarm('recoverseg/seed/segment-down'), noTags)).toEqual({
      start: true,
      clusterId: 'seed',
      incidentId: 'alarm-202412231200',
      failedHosts: [],
      source: 'alarm',
      detail: 'alarm recoverseg/seed/segment-down',
    });
  });

  it.each(['OK', 'INSUFFICIENT_DATA'])('drops an alarm whose state is %s', async (value) => {
    expect(await decideTrigger(alarm('recoverseg/seed/segment-down', value), noTags)).toEqual({
      start: false,
      reason: `alarm recoverseg/seed/segment-down is ${value}, not ALARM`,
    });
  });

  it.each([
    'segment-down',
    'recoverseg/seed',
    'recoverseg//x',
    'recoverseg/../x',
    'recoverseg/sé/x',
    `recoverseg/${'c'.repeat(65)}/x`,
  ])('drops an alarm whose name does not name a cluster: %s', async (name) => {
    const decision = await decideTrigger(alarm(name), noTags);
    expect(decision).toMatchObject({
      start: false,
      reason: expect.stringMatching(/does not name a cluster/),
    });
  });

  it.each(['stopped', 'stopping', 'terminated', 'shutting-down'])(
    'starts for a tagged instance that is %s, naming its host as failed',
    async (state) => {
      expect(await decideTrigger(ec2(state), tagged)).toEqual({
        start: true,
        clusterId: 'seed',
        incidentId: 'ec2-202412231200',
        failedHosts: ['segment-2'],
        source: 'ec2',
        detail: `instance ${INSTANCE} ${state} (host segment-2)`,
      });
    },
  );

  it.each(['running', 'pending'])('drops an instance that is %s', async (state) => {
    expect(await decideTrigger(ec2(state), tagged)).toEqual({
      start: false,
      reason: `instance ${INSTANCE} is ${state}`,
    });
  });

  it('starts without a failed host when the host tag is missing or not a host name', async () => {
    const decision = await decideTrigger(ec2(), async () => ({
      [CLUSTER_TAG]: 'seed',
      [HOST_TAG]: 'seg 2; rm -rf /',
    }));
    expect(decision).toMatchObject({
      start: true,
      clusterId: 'seed',
      failedHosts: [],
      detail: `instance ${INSTANCE} stopped`,
    });
  });

  it.each([
    ['no tags', noTags],
    ['no description', async () => undefined],
    ['a cluster tag that is not a cluster id', async () => ({ [CLUSTER_TAG]: '../etc' })],
  ] as [string, InstanceTags][])('drops an instance with %s', async (_, tagsOf) => {
    expect(await decideTrigger(ec2(), tagsOf)).toEqual({
      start: false,
      reason: `instance ${INSTANCE} has no valid ${CLUSTER_TAG} tag`,
    });
  });

  it.each([
    null,
    'text',
    42,
    {},
    { source: 'aws.cloudwatch' },
    { ...alarm('recoverseg/seed/x'), time: 'yesterday' },
    { ...ec2(), detail: { 'instance-id': 'i-XYZ', state: 'stopped' } },
  ])('drops an event it does not know: %j', async (event) => {
    expect(await decideTrigger(event, tagged)).toEqual({
      start: false,
      reason: 'not a CloudWatch alarm state change or an EC2 instance state change',
    });
  });

  it('gives triggers within one 10-minute window one incident, and the next window another', async () => {
    const ids = async (...times: string[]) =>
      Promise.all(
        times.map(
          async (t) =>
            (
              (await decideTrigger(alarm('recoverseg/seed/x', 'ALARM', t), noTags)) as {
                incidentId: string;
              }
            ).incidentId,
        ),
      );
    expect(
      new Set(
        await ids('2024-12-23T12:00:00Z', '2024-12-23T12:04:59Z', '2024-12-23T12:09:59.999Z'),
      ),
    ).toEqual(new Set(['alarm-202412231200']));
    expect(await ids('2024-12-23T12:10:00Z', '2024-12-23T23:59:59Z')).toEqual([
      'alarm-202412231210',
      'alarm-202412232350',
    ]);
  });
});

describe('startFromTrigger: an EventBridge event in, at most one execution out', () => {
  let stores: StorePorts;
  const now = () => new Date('2024-12-23T12:04:00.000Z');
  beforeAll(async () => {
    stores = createMemoryStores();
    const [registration] = seedIncidentPhases();
    await stores.events.append('seed', registration, {
      expectedSeq: 0,
      idempotencyKey: 'register',
      at: '2024-12-23T11:00:00.000Z',
    });
  });

  it('starts the workflow with the incident, the trigger and the failed host', async () => {
    const starter = new RecordingStarter();
    const result = await startFromTrigger(ec2(), { stores, starter, tagsOf: tagged, now });
    expect(result).toMatchObject({
      started: true,
      clusterId: 'seed',
      incidentId: 'ec2-202412231200',
      executionName: 'seed--ec2-202412231200',
      alreadyStarted: false,
    });
    expect(starter.calls).toEqual([
      expect.objectContaining({
        clusterId: 'seed',
        incidentId: 'ec2-202412231200',
        trigger: { source: 'ec2', detail: `instance ${INSTANCE} stopped (host segment-2)` },
        options: { type: 'auto', targetHosts: {}, rebalance: true, dryRun: false, replayLagGb: 10 },
        failedHosts: ['segment-2'],
      }),
    ]);
  });

  it('drops, without starting, an alarm for a cluster that was never registered', async () => {
    const starter = new RecordingStarter();
    expect(
      await startFromTrigger(alarm('recoverseg/ghost/down'), {
        stores,
        starter,
        tagsOf: noTags,
        now,
      }),
    ).toEqual({ started: false, reason: 'cluster ghost is not registered' });
    expect(starter.calls).toEqual([]);
  });

  it('drops an instance whose tags cannot be read instead of failing', async () => {
    const starter = new RecordingStarter();
    const throwing: InstanceTags = async () => {
      throw Object.assign(new Error('not authorized to perform ec2:DescribeTags'), {
        name: 'UnauthorizedOperation',
      });
    };
    expect(await startFromTrigger(ec2(), { stores, starter, tagsOf: throwing, now })).toEqual({
      started: false,
      reason: `instance ${INSTANCE} has no valid ${CLUSTER_TAG} tag`,
    });
    expect(starter.calls).toEqual([]);
  });

  it('drops an OK alarm and an unknown event without reading the log or starting', async () => {
    const starter = new RecordingStarter();
    const unread = {
      readHead: () => Promise.reject(new Error('the log must not be read')),
    } as unknown as EventStorePort;
    expect(
      await startFromTrigger(alarm('recoverseg/seed/x', 'OK'), {
        stores: { ...stores, events: unread },
        starter,
        tagsOf: noTags,
        now,
      }),
    ).toMatchObject({ started: false });
    expect(
      await startFromTrigger(
        { hello: 'world' },
        { stores: { ...stores, events: unread }, starter, tagsOf: noTags, now },
      ),
    ).toMatchObject({ started: false });
    expect(starter.calls).toEqual([]);
  });

  it('starts exactly one execution for 100 concurrent triggers of one incident', async () => {
    const starter = new RecordingStarter();
    const storm = Array.from({ length: 100 }, (_, i) => {
      const time = `2024-12-23T13:0${Math.floor(i / 20)}:${String(i % 60).padStart(2, '0')}Z`;
      return i % 2 === 0
        ? alarm(`recoverseg/seed/alarm-${i % 7}`, 'ALARM', time)
        : alarm('recoverseg/seed/segment-down', 'ALARM', time);
    });
    const results = await Promise.all(
      storm.map((event) => startFromTrigger(event, { stores, starter, tagsOf: noTags, now })),
    );
    expect(results.every((r) => r.started && r.executionName === 'seed--alarm-202412231300')).toBe(
      true,
    );
    expect(results.filter((r) => r.started && !r.alreadyStarted)).toHaveLength(1);
    expect(starter.started).toEqual(new Set(['seed--alarm-202412231300']));
  });
});

describe('startFromTrigger: a lock holder that died never wedges the cluster', () => {
  const held = 'held';
  const deadArn = 'arn:aws:states:us-east-1:000000000000:execution:recoverseg:held--old';
  let stores: StorePorts;
  const now = () => new Date('2024-12-23T12:04:00.000Z');
  beforeAll(async () => {
    stores = createMemoryStores();
    const [registration] = seedIncidentPhases();
    await stores.events.append(held, registration!, {
      expectedSeq: 0,
      idempotencyKey: 'register',
      at: '2024-12-23T11:00:00.000Z',
    });
  });

  it('closes the recovery of a dead holder on record, then starts; a live holder is left alone and the run queues', async () => {
    const { seq } = await stores.events.readHead(held).then((h) => ({ seq: h.lastSeq }));
    await stores.events.append(
      held,
      [
        {
          type: 'RecoveryRequested',
          data: {
            incidentId: 'old',
            trigger: { source: 'api' },
            options: recoveryOptionsSchema.parse({}),
          },
        },
      ],
      { expectedSeq: seq, idempotencyKey: 'old', at: '2024-12-23T11:30:00.000Z' },
    );
    await stores.lock.acquire(
      held,
      deadArn,
      'old',
      Date.parse('2024-12-23T11:30:00Z') / 1000,
      3600,
    );
    const starter = new RecordingStarter();
    const first = await startFromTrigger(alarm(`recoverseg/${held}/down`), {
      stores,
      starter,
      tagsOf: noTags,
      now,
    });
    expect(first).toMatchObject({ started: true, alreadyStarted: false });
    const log = await stores.events.read(held);
    expect(log.at(-1)).toMatchObject({
      type: 'RecoveryFailed',
      data: {
        incidentId: 'old',
        reason: expect.stringMatching(
          /^abandoned: its run ended without closing it \(execution held--old is FAILED/,
        ),
      },
    });

    // A live holder (another incident) keeps the cluster; nothing is written, the run queues.
    const liveArn = 'arn:aws:states:us-east-1:000000000000:execution:recoverseg:held--live';
    await stores.lock.release(held, deadArn).catch(() => undefined);
    await stores.lock.acquire(
      held,
      liveArn,
      'live',
      Date.parse('2024-12-23T12:00:00Z') / 1000,
      3600,
    );
    starter.live.add(liveArn);
    const before = await stores.events.readHead(held);
    const second = await startFromTrigger(
      alarm(`recoverseg/${held}/down`, 'ALARM', '2024-12-23T12:30:00Z'),
      {
        stores,
        starter,
        tagsOf: noTags,
        now,
      },
    );
    expect(second).toMatchObject({ started: true });
    expect(await stores.events.readHead(held)).toEqual(before);
  });
});
