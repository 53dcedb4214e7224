import { DescribeTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import type { Context } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { context, lambdaEnvironment, STATE_MACHINE_ARN, TABLES } from './support.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const ec2 = mockClient(EC2Client);

type Handler = (event: unknown, context: Context) => Promise<unknown>;
let handler: Handler;
let warn: MockInstance;

beforeAll(async () => {
  lambdaEnvironment();
  handler = ((await import('#lambdas/start-from-event.ts')) as { handler: Handler }).handler;
  const { logger } = await import('#lambdas/common/powertools.ts');
  warn = vi.spyOn(logger, 'warn');
});

const INSTANCE = 'i-0123456789abcdef0';
const alarm = (alarmName: string) => ({
  source: 'aws.cloudwatch',
  'detail-type': 'CloudWatch Alarm State Change',
  time: '2024-12-23T12:03:17Z',
  detail: { alarmName, state: { value: 'ALARM' } },
});
const stopped = {
  source: 'aws.ec2',
  'detail-type': 'EC2 Instance State-change Notification',
  time: '2024-12-23T12:03:17Z',
  detail: { 'instance-id': INSTANCE, state: 'stopped' },
};

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ec2.reset();
  warn.mockClear();
  ddb.on(GetCommand).resolves({});
  // Before starting, the trigger looks for a dead lock holder: no lock, no recovery open.
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb
    .on(GetCommand, { TableName: TABLES.eventLog, Key: { clusterId: 'seed', seq: 0 } })
    .resolves({ Item: { clusterId: 'seed', seq: 0, lastSeq: 12 } });
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
});

describe('the EventBridge trigger Lambda', () => {
  it('starts one execution named after the alarm incident of a registered cluster', async () => {
    const result = await handler(alarm('recoverseg/seed/segment-down'), context());
    expect(result).toMatchObject({
      started: true,
      clusterId: 'seed',
      incidentId: 'alarm-202412231200',
      executionName: 'seed--alarm-202412231200',
    });
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'seed--alarm-202412231200',
    });
  });

  it('reads the instance tags and names its host as failed', async () => {
    ec2.on(DescribeTagsCommand).resolves({
      Tags: [
        { Key: 'recoverseg:cluster', Value: 'seed' },
        { Key: 'recoverseg:host', Value: 'segment-2' },
      ],
    });
    expect(await handler(stopped, context())).toMatchObject({
      started: true,
      incidentId: 'ec2-202412231200',
    });
    expect(ec2).toHaveReceivedCommandWith(DescribeTagsCommand, {
      Filters: [{ Name: 'resource-id', Values: [INSTANCE] }],
    });
    expect(
      JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!),
    ).toMatchObject({ failedHosts: ['segment-2'], trigger: { source: 'ec2' } });
  });

  it('reports a duplicate trigger of a started incident as alreadyStarted', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await handler(alarm('recoverseg/seed/segment-down'), context())).toMatchObject({
      started: true,
      alreadyStarted: true,
    });
  });

  it.each([
    [
      'an alarm for a cluster never registered',
      alarm('recoverseg/ghost/segment-down'),
      'cluster ghost is not registered',
    ],
    [
      'an alarm that names no cluster',
      alarm('cpu-high'),
      'alarm cpu-high does not name a cluster (recoverseg/<clusterId>/...)',
    ],
    [
      'an event of another kind',
      { source: 'aws.s3', detail: {} },
      'not a CloudWatch alarm state change or an EC2 instance state change',
    ],
    [
      'no event at all',
      null,
      'not a CloudWatch alarm state change or an EC2 instance state change',
    ],
  ])('logs and drops %s without starting anything', async (_, event, reason) => {
    expect(await handler(event, context())).toEqual({ started: false, reason });
    expect(warn).toHaveBeenCalledWith('event dropped', { reason });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('logs and drops an instance whose tags cannot be read, instead of failing', async () => {
    ec2
      .on(DescribeTagsCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation' }));
    expect(await handler(stopped, context())).toEqual({
      started: false,
      reason: `instance ${INSTANCE} has no valid recoverseg:cluster tag`,
    });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('fails (for EventBridge to retry) when the event log cannot be read', async () => {
    ddb
      .on(GetCommand)
      .rejects(
        Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }),
      );
    await expect(handler(alarm('recoverseg/seed/segment-down'), context())).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
    });
    expect(sfn.calls()).toHaveLength(0);
  });
});
