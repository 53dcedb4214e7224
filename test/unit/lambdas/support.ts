import type { Context } from 'aws-lambda';
import { prefixedTableNames, tableEnvironment } from '#store/tables.ts';
import type { NewEvent } from '#domain/events.ts';
import { registrationEvents } from '#domain/registration.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { seedScenario } from '#test/fixtures/seed.ts';

/** The table names the handlers read from their environment, as CDK sets them. */
export const TABLES = prefixedTableNames('rs');
export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:recoverseg';
export const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:recoverseg';

/** The Lambda environment, set before a handler module is imported (they read it once). */
export function lambdaEnvironment(extra: Record<string, string> = {}): void {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    ...tableEnvironment(TABLES),
    CLUSTER_BACKEND: 'simulated',
    STATE_MACHINE_ARN,
    NOTIFY_TOPIC_ARN: TOPIC_ARN,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_DISABLED: 'true',
    // Powertools then writes to the global console, which a test can silence.
    POWERTOOLS_DEV: 'true',
    ...extra,
  });
}

export const context = (name = 'test'): Context =>
  ({
    functionName: `recoverseg-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:recoverseg-${name}`,
    memoryLimitInMB: '512',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: `/aws/lambda/recoverseg-${name}`,
    logStreamName: '2024/12/23/[$LATEST]abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }) as Context;

const AT = '2024-12-23T12:00:00.000Z';

/** Event log items as DynamoDB holds them: seq 1, 2, 3 … */
export function logItems(
  clusterId: string,
  events: readonly NewEvent[],
): Record<string, unknown>[] {
  return events.map((event, i) => ({
    clusterId,
    seq: i + 1,
    at: AT,
    idempotencyKey: `k${i + 1}`,
    ...event,
  }));
}

export const seedRegistration = (): NewEvent[] =>
  registrationEvents(structuredClone(seedScenario.segments) as SegmentRow[]);

export const taskEvent = (clusterId = 'seed', extra: Record<string, unknown> = {}) => ({
  executionId: `arn:aws:states:us-east-1:123456789012:execution:recoverseg:${clusterId}--inc-1`,
  input: { clusterId, incidentId: 'inc-1', trigger: { source: 'api' }, options: {}, ...extra },
});
