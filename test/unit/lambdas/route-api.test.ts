import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_BODY_BYTES } from '#api/http.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { apiEvent } from '#test/unit/api/support.ts';
import { context, lambdaEnvironment, STATE_MACHINE_ARN, TABLES } from './support.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** The router module as a fresh container loads it, with the environment as set now. */
async function router(env: Record<string, string> = {}): Promise<Handler> {
  lambdaEnvironment(env);
  vi.resetModules();
  return ((await import('#lambdas/route-api.ts')) as { handler: Handler }).handler;
}

const call = async (handler: Handler, method: string, path: string, body?: string) => {
  const result = await handler(apiEvent(method, path, body ?? null), context('ApiRouter'));
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
};

/** The Configuration table holds the seed cluster at seq 1; the log head agrees. */
function seedProjected() {
  ddb.on(QueryCommand, { TableName: TABLES.configuration }).resolves({
    Items: [
      { clusterId: 'seed', dbid: 0, lastSeq: 1, doubleFaults: [] },
      ...seedScenario.segments.map((r) => ({ clusterId: 'seed', ...r, projectedSeq: 1 })),
    ],
  });
}

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(GetCommand).resolves({});
});

describe('the API router Lambda', () => {
  it('starts the execution named after the incident on the configured state machine: 202', async () => {
    seedProjected();
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: `${STATE_MACHINE_ARN}:seed--inc-1`, startDate: new Date() });
    const reply = await call(
      await router(),
      'POST',
      '/clusters/seed/recoveries',
      JSON.stringify({ incidentId: 'inc-1', dryRun: true }),
    );
    expect(reply).toMatchObject({
      status: 202,
      body: { executionName: 'seed--inc-1', alreadyStarted: false },
    });
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'seed--inc-1',
    });
    expect(
      JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!),
    ).toMatchObject({ clusterId: 'seed', incidentId: 'inc-1', options: { dryRun: true } });
  });

  it('answers 200 alreadyStarted when Step Functions already has the execution', async () => {
    seedProjected();
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const reply = await call(
      await router(),
      'POST',
      '/clusters/seed/recoveries',
      JSON.stringify({ incidentId: 'inc-1' }),
    );
    expect(reply).toMatchObject({
      status: 200,
      body: {
        alreadyStarted: true,
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:recoverseg:seed--inc-1',
      },
    });
  });

  it('answers 500 without details when Step Functions fails, so the caller may retry', async () => {
    seedProjected();
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const reply = await call(
      await router(),
      'POST',
      '/clusters/seed/recoveries',
      JSON.stringify({ incidentId: 'inc-1' }),
    );
    expect(reply).toEqual({
      status: 500,
      body: { error: 'internal error; the request may be retried', name: 'InternalError' },
    });
  });

  it('refuses malformed JSON with 400 before any AWS call', async () => {
    const reply = await call(await router(), 'POST', '/clusters/seed/recoveries', '{"incidentId":');
    expect(reply).toMatchObject({ status: 400, body: { path: 'body' } });
    expect(ddb.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('refuses an oversized body with 413 before any AWS call', async () => {
    const reply = await call(await router(), 'POST', '/clusters', 'x'.repeat(MAX_BODY_BYTES + 1));
    expect(reply.status).toBe(413);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers 404 for a cluster neither the projection nor the log knows, and starts nothing', async () => {
    const reply = await call(await router(), 'POST', '/clusters/ghost/recoveries', '{}');
    expect(reply).toMatchObject({ status: 404, body: { name: 'UnknownCluster' } });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('refuses simulation options with 400 naming body.simulation when the backend is a real cluster', async () => {
    const body = JSON.stringify({
      clusterId: 'prod',
      segments: seedScenario.segments,
      simulation: { timeScale: 0 },
    });
    const reply = await call(
      await router({
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
      }),
      'POST',
      '/clusters',
      body,
    );
    expect(reply).toMatchObject({ status: 400, body: { path: 'body.simulation' } });
    expect(ddb.calls()).toHaveLength(0);
  });
});
