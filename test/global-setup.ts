import type { TestProject } from 'vitest/node';
import { deployedDefinition } from '#local/definition.ts';
import { startDynamoDbLocal, type DynamoDbLocal } from '#local/dynamodb-local.ts';

/**
 * One DynamoDB Local per test run, shared by the projects that need it; tests isolate
 * themselves with their own tables. Each project runs this setup (and only projects with
 * files to run do), so the JVM is counted in and out on the process rather than per project.
 * A quick start (C1 JIT alone, the serial collector): the tests' tens of thousands of requests
 * never make C2 pay off, and its compiler threads took a quarter of the model test's CPU.
 *
 * The CLIs the e2e tests spawn (demo, scenario, serve) read the state machine from the synth
 * cache. In a fresh clone it is empty, and each would synthesize (6 s of CPU) until one had
 * filled it: the first setup fills it once, while the JVM starts.
 */
const shared = globalThis as {
  recoversegDynamoDb?: { users: number; started: Promise<DynamoDbLocal>; synth: Promise<unknown> };
};

export default async function setup(project: TestProject) {
  const entry = (shared.recoversegDynamoDb ??= {
    users: 0,
    started: startDynamoDbLocal({ quickStart: true }),
    synth: project.vitest.projects.some((p) => p.name === 'e2e')
      ? deployedDefinition()
      : Promise.resolve(),
  });
  entry.users++;
  const [ddb] = await Promise.all([entry.started, project.name === 'e2e' ? entry.synth : null]);
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
