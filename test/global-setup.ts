import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal, type DynamoDbLocal } from '#local/dynamodb-local.ts';

/**
 * One DynamoDB Local per test run, shared by the projects that need it; tests isolate
 * themselves with their own tables. Each project runs this setup (and only projects with
 * files to run do), so the JVM is counted in and out on the process rather than per project.
 * A quick start (C1 JIT alone): the tests' few thousand requests never make C2 pay off, and
 * its compiler threads took a quarter of the model test's CPU.
 */
const shared = globalThis as {
  recoversegDynamoDb?: { users: number; started: Promise<DynamoDbLocal> };
};

export default async function setup(project: TestProject) {
  const entry = (shared.recoversegDynamoDb ??= {
    users: 0,
    started: startDynamoDbLocal({ quickStart: true }),
  });
  entry.users++;
  const ddb = await entry.started;
  project.provide('dynamodbEndpoint', ddb.endpoint);
  process.env.DYNAMODB_ENDPOINT = ddb.endpoint;
  return async () => {
    if (--entry.users > 0) return;
    shared.recoversegDynamoDb = undefined;
    await ddb.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}
