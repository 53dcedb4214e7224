import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { workflowInputSchema } from '#domain/step-contract.ts';
import { SnsNotifier } from '#app/notifier.ts';
import { executionName, SfnWorkflowStarter } from '#app/starter.ts';

const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
// The worker's other files share the SDK: leave its clients unmocked.
afterAll(() => {
  sfn.restore();
  sns.restore();
});
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:recoverseg';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:recoverseg';

const input = workflowInputSchema.parse({
  clusterId: 'seed',
  incidentId: 'ec2-202412231200',
  trigger: { source: 'ec2' },
  options: {},
  failedHosts: ['segment-2'],
});

beforeEach(() => {
  sfn.reset();
  sns.reset();
});

describe('executionName: one name per incident, valid for Step Functions', () => {
  it('is the cluster and the incident when they fit', () => {
    expect(executionName('seed', 'ec2-202412231200')).toBe('seed--ec2-202412231200');
  });

  it('keeps two incidents of a long cluster id apart, within 80 characters', () => {
    const cluster = 'c'.repeat(64);
    const a = executionName(cluster, 'api-20241223120000');
    const b = executionName(cluster, 'api-20241223120500');
    expect(a).not.toBe(b);
    for (const name of [a, b]) expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(executionName(cluster, 'api-20241223120000')).toBe(a);
  });

  it('keeps incidents apart that differ only in characters Step Functions does not allow', () => {
    const dotted = executionName('seed', 'inc.1');
    expect(dotted).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(dotted).not.toBe(executionName('seed', 'inc_1'));
    expect(dotted).not.toBe(executionName('seed', 'inc:1'));
  });
});

describe('SfnWorkflowStarter', () => {
  const starter = () =>
    new SfnWorkflowStarter(new SFNClient({ region: 'us-east-1' }), STATE_MACHINE);

  it('starts an execution named after the incident with the whole input', async () => {
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:seed--ec2-202412231200`,
      startDate: new Date(),
    });
    const started = await starter().start(input);
    expect(started).toEqual({
      executionName: 'seed--ec2-202412231200',
      executionArn:
        'arn:aws:states:us-east-1:123456789012:execution:recoverseg:seed--ec2-202412231200',
      alreadyStarted: false,
    });
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE,
      name: 'seed--ec2-202412231200',
    });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(JSON.parse(sent.input!)).toEqual(input);
  });

  it('reports alreadyStarted, with the execution ARN, when the incident already has an execution', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    expect(await starter().start(input)).toEqual({
      executionName: 'seed--ec2-202412231200',
      executionArn:
        'arn:aws:states:us-east-1:123456789012:execution:recoverseg:seed--ec2-202412231200',
      alreadyStarted: true,
    });
  });

  it('lets other errors through with their name', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(starter().start(input)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('SnsNotifier', () => {
  const notifier = () => new SnsNotifier(() => import('@aws-sdk/client-sns'), TOPIC);

  it('publishes a success with the outcome in the summary and filterable attributes', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    await notifier().notify({
      clusterId: 'seed',
      incidentId: 'ec2-202412231200',
      status: 'succeeded',
      outcome: 'recovered',
    });
    expect(sns).toHaveReceivedCommandExactlyOnceWith(PublishCommand, {
      TopicArn: TOPIC,
      Subject: 'recoverseg: cluster seed succeeded',
      MessageAttributes: {
        clusterId: { DataType: 'String', StringValue: 'seed' },
        status: { DataType: 'String', StringValue: 'succeeded' },
      },
    });
    const message = JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!);
    expect(message).toEqual({
      clusterId: 'seed',
      incidentId: 'ec2-202412231200',
      status: 'succeeded',
      outcome: 'recovered',
      summary: 'cluster seed, incident ec2-202412231200: recovered (recovered)',
    });
  });

  it('publishes a failure naming the phase and the reason, with a subject SNS accepts', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const clusterId = 'c'.repeat(64);
    await notifier().notify({
      clusterId,
      incidentId: 'i-1',
      status: 'failed',
      phase: 'promote',
      reason: 'content 1: double fault',
    });
    const sent = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(sent.Subject!.length).toBeLessThanOrEqual(100);
    expect(sent.Subject).toMatch(/^[\x20-\x7e]+$/);
    expect(sent.MessageAttributes?.status).toEqual({ DataType: 'String', StringValue: 'failed' });
    expect(JSON.parse(sent.Message!).summary).toBe(
      `cluster ${clusterId}, incident i-1: recovery failed in promote: content 1: double fault`,
    );
  });

  it('lets a publish error through', async () => {
    sns
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));
    await expect(
      notifier().notify({
        clusterId: 'seed',
        incidentId: 'i-1',
        status: 'succeeded',
        outcome: 'recovered',
      }),
    ).rejects.toMatchObject({ name: 'NotFoundException' });
  });
});
