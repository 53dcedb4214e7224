import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import type { Context } from 'aws-lambda';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { NewEvent } from '#domain/events.ts';
import { WORKFLOW_TASKS, WORKFLOW_TASK_NAMES, type WorkflowTask } from '#infra/tasks.ts';
import {
  context,
  lambdaEnvironment,
  logItems,
  seedRegistration,
  TABLES,
  taskEvent,
  TOPIC_ARN,
} from './support.ts';

lambdaEnvironment();

const ddb = mockClient(DynamoDBDocumentClient);
const sns = mockClient(SNSClient);
const ssm = mockClient(SSMClient);

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Imports a task's deployed module afresh, so it reads the environment as set now. */
async function handlerOf(task: WorkflowTask): Promise<Handler> {
  const entry = WORKFLOW_TASKS[task].entry.replace(/^lambdas\//, '#lambdas/');
  const module = (await import(entry)) as { handler: Handler };
  return module.handler;
}

/** The event log of one cluster as the document client returns it; nothing else is stored. */
function logHolds(clusterId: string, events: NewEvent[]) {
  const items = logItems(clusterId, events);
  ddb.on(GetCommand).resolves({});
  ddb
    .on(GetCommand, { TableName: TABLES.eventLog, Key: { clusterId, seq: 0 } })
    .resolves({ Item: { clusterId, seq: 0, lastSeq: items.length } });
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(QueryCommand, { TableName: TABLES.eventLog }).resolves({ Items: items });
}

const requested = (incidentId = 'inc-1'): NewEvent => ({
  type: 'RecoveryRequested',
  data: {
    incidentId,
    trigger: { source: 'api' },
    options: { type: 'auto', targetHosts: {}, rebalance: true, dryRun: false, replayLagGb: 10 },
  },
});

beforeEach(() => {
  // Powertools Metrics warns on every invocation that published nothing; not what these tests read.
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  ddb.reset();
  sns.reset();
  ssm.reset();
  lambdaEnvironment();
  vi.resetModules();
});

describe('every workflow Task refuses a malformed payload before any AWS call', () => {
  const malformed: [string, unknown, string][] = [
    ['no payload', undefined, 'executionId'],
    ['no executionId', { input: taskEvent().input }, 'executionId'],
    ['a clusterId with a path in it', taskEvent('../etc'), 'input.clusterId'],
    [
      'a dbid list that is not numbers',
      taskEvent('seed', {
        detect: {
          at: '2024-12-23T12:00:00.000Z',
          appended: 0,
          down: ['6'],
          switched: [],
          doubleFaults: [],
        },
      }),
      'input.detect.down[0]',
    ],
    [
      'an unknown recovery type',
      taskEvent('seed', { options: { type: 'fast' } }),
      'input.options.type',
    ],
    ['an unknown field in the workflow input', taskEvent('seed', { shell: 'rm -rf /' }), 'input'],
  ];

  it.each(
    WORKFLOW_TASK_NAMES.flatMap((task) =>
      malformed.map(([what, payload, path]) => [task, what, path, payload] as const),
    ),
  )('%s refuses %s with a ValidationError naming %s', async (task, _what, path, payload) => {
    const handler = await handlerOf(task);
    const call = handler(payload, context(task));
    // Modules are imported afresh per test, so the class is matched by name, as Step Functions does.
    await expect(call).rejects.toMatchObject({
      name: 'ValidationError',
      path,
      message: expect.stringContaining(`${path}: `),
    });
    expect(ddb.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
  });
});

describe('StartRecovery', () => {
  it('takes the lock for the execution and appends RecoveryRequested with an idempotency key naming it', async () => {
    logHolds('seed', seedRegistration());
    ddb.on(PutCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    const result = await (await handlerOf('StartRecovery'))(taskEvent(), context());
    expect(result).toMatchObject({ seq: 1 });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLES.control,
      Item: expect.objectContaining({
        pk: 'lock#seed',
        holder: taskEvent().executionId,
        incidentId: 'inc-1',
      }),
    });
    const write = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(write.map((w) => w.Put?.Item?.type ?? w.Put?.Item?.pk ?? 'head')).toEqual([
      'head',
      'RecoveryRequested',
      'idem#seed',
    ]);
    expect(write[1]!.Put!.Item).toMatchObject({
      seq: 2,
      idempotencyKey: `${taskEvent().executionId}/StartRecovery@1`,
      causation: { state: 'StartRecovery' },
    });
  });

  it('turns a lost conditional put on the lock into ClusterLocked naming the holder, and appends nothing', async () => {
    logHolds('seed', seedRegistration());
    ddb.on(PutCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
      }),
    );
    ddb.on(GetCommand, { TableName: TABLES.control, Key: { pk: 'lock#seed' } }).resolves({
      Item: {
        pk: 'lock#seed',
        sk: 'lock',
        holder: 'arn:...:seed--other',
        incidentId: 'other',
        acquiredAt: 1,
        expiresAt: 2_000_000_000,
      },
    });
    const call = (await handlerOf('StartRecovery'))(taskEvent(), context());
    await expect(call).rejects.toMatchObject({
      name: 'ClusterLocked',
      holder: 'arn:...:seed--other',
      message: expect.stringMatching(/cluster seed is being recovered by arn:...:seed--other/),
    });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('turns a TransactWrite that keeps losing its race into ConcurrencyError after re-reading and re-deciding', async () => {
    logHolds('seed', seedRegistration());
    ddb.on(PutCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
      }),
    );
    const call = (await handlerOf('StartRecovery'))(taskEvent(), context());
    await expect(call).rejects.toMatchObject({
      name: 'ConcurrencyError',
      message: expect.stringMatching(/cluster seed: append expected last seq 1/),
    });
    expect(ddb.commandCalls(TransactWriteCommand).length).toBeGreaterThan(1);
  });

  it('refuses a cluster the log does not know with UnknownCluster, before taking the lock', async () => {
    logHolds('ghost', []);
    await expect(
      (await handlerOf('StartRecovery'))(taskEvent('ghost'), context()),
    ).rejects.toMatchObject({ name: 'UnknownCluster' });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('counts a step that throws as <Task>Errors: no invocation publishes an empty metrics set', async () => {
    // Powertools warns "No application metrics to publish" in the log of every such invocation.
    const { metrics } = await import('#lambdas/common/metrics.ts');
    const published: boolean[] = [];
    const publish = vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => {
      published.push(metrics.hasStoredMetrics());
      return metrics;
    });
    logHolds('ghost', []);
    try {
      await expect(
        (await handlerOf('StartRecovery'))(taskEvent('ghost'), context()),
      ).rejects.toMatchObject({ name: 'UnknownCluster' });
    } finally {
      publish.mockRestore();
      metrics.clearMetrics();
    }
    expect(published).toEqual([true]);
  });

  it('lets a DynamoDB throttle through with its own name, for the transient Retry', async () => {
    ddb.on(GetCommand).rejects(
      Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
        name: 'ProvisionedThroughputExceededException',
      }),
    );
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect((await handlerOf('StartRecovery'))(taskEvent(), context())).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
    });
  });
});

describe('RecordFailure and FinishRecovery notify on SNS', () => {
  it('RecordFailure appends RecoveryFailed, releases the lock and publishes the failure', async () => {
    logHolds('seed', [...seedRegistration(), requested()]);
    ddb.on(TransactWriteCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const event = taskEvent('seed', {
      errors: {
        promote: {
          Error: 'DoubleFault',
          Cause: JSON.stringify({ errorMessage: 'content 1: double fault' }),
        },
      },
    });
    expect(await (await handlerOf('RecordFailure'))(event, context())).toEqual({
      phase: 'promote',
      error: 'DoubleFault',
      cause: 'content 1: double fault',
    });
    const put =
      ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![1]!.Put!.Item!;
    expect(put).toMatchObject({
      seq: 3,
      type: 'RecoveryFailed',
      data: { incidentId: 'inc-1', phase: 'promote', reason: 'content 1: double fault' },
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      TableName: TABLES.control,
      Key: { pk: 'lock#seed', sk: 'lock' },
      ExpressionAttributeValues: { ':holder': event.executionId },
    });
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC_ARN,
      MessageAttributes: {
        clusterId: { DataType: 'String', StringValue: 'seed' },
        status: { DataType: 'String', StringValue: 'failed' },
      },
    });
  });

  it('RecordFailure of a run refused at the door appends nothing but still notifies', async () => {
    logHolds('seed', [...seedRegistration(), requested('other')]);
    ddb
      .on(DeleteCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'not the holder', $metadata: {} }));
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const event = taskEvent('seed', {
      errors: { start: { Error: 'ClusterLocked', Cause: 'locked' } },
    });
    expect(await (await handlerOf('RecordFailure'))(event, context())).toMatchObject({
      phase: 'start',
      error: 'ClusterLocked',
    });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('FinishRecovery appends RecoveryCompleted, releases the lock and publishes the success', async () => {
    logHolds('seed', [...seedRegistration(), requested()]);
    ddb.on(TransactWriteCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm-3' });
    expect(await (await handlerOf('FinishRecovery'))(taskEvent(), context())).toMatchObject({
      status: 'succeeded',
      outcome: 'nothing-to-do',
    });
    expect(
      ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![1]!.Put!.Item,
    ).toMatchObject({
      type: 'RecoveryCompleted',
      data: { incidentId: 'inc-1', outcome: 'nothing-to-do' },
    });
    const message = JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!);
    expect(message).toMatchObject({
      clusterId: 'seed',
      incidentId: 'inc-1',
      status: 'succeeded',
      outcome: 'nothing-to-do',
    });
  });

  it('a failed publish fails the Task with the SNS error name (the log is already written)', async () => {
    logHolds('seed', [...seedRegistration(), requested()]);
    ddb.on(TransactWriteCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    sns
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect((await handlerOf('FinishRecovery'))(taskEvent(), context())).rejects.toMatchObject(
      { name: 'ThrottlingException' },
    );
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });
});

describe('with the Greenplum-over-SSM backend', () => {
  beforeEach(() =>
    lambdaEnvironment({
      CLUSTER_BACKEND: 'ssm',
      CLUSTER_ID: 'seed',
      COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
    }),
  );

  it('DetectFailures sends the FTS probe to the coordinator and names a throttle SsmThrottled', async () => {
    logHolds('seed', seedRegistration());
    ssm
      .on(SendCommandCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect((await handlerOf('DetectFailures'))(taskEvent(), context())).rejects.toMatchObject(
      { name: 'SsmThrottled' },
    );
    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: ['i-0123456789abcdef0'],
      DocumentName: 'AWS-RunShellScript',
    });
  });

  it('refuses a cluster this deployment does not serve with ClusterNotServed, without calling SSM', async () => {
    logHolds('other', seedRegistration());
    await expect(
      (await handlerOf('DetectFailures'))(taskEvent('other'), context()),
    ).rejects.toMatchObject({ name: 'ClusterNotServed' });
    expect(ssm.calls()).toHaveLength(0);
  });
});
