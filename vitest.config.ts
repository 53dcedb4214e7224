import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

/** Starts (once per run, shared by every project that lists it) the JVM of DynamoDB Local. */
const dynamodbLocal = 'test/global-setup.ts';

/**
 * `npm test` runs every project in one pool; `vitest run --project 'unit*'` runs the tests that
 * need neither DynamoDB Local nor a CDK synth, and starts no JVM.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker less than the cores: one worker, every file in series, on
    // a 2-core machine. Most integration and e2e files spend their time waiting on DynamoDB
    // Local, Step Functions waits or a spawned `serve`, so one worker per core; more overlaps
    // better on a quiet machine but starves the spawned processes on a loaded one
    // (`--maxWorkers=N` to choose).
    maxWorkers: availableParallelism(),
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/unit/lambdas/**'],
          // The files share one module graph per worker instead of importing it again each:
          // a third of the CPU time. They keep no state in modules between files.
          isolate: false,
        },
      },
      {
        extends: true,
        // The handlers read their environment once, when imported: each file imports afresh.
        test: { name: 'unit-lambdas', include: ['test/unit/lambdas/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/races/**/*.test.ts'],
          globalSetup: [dynamodbLocal],
        },
      },
      {
        extends: true,
        test: { name: 'model', include: ['test/model/**/*.test.ts'], globalSetup: [dynamodbLocal] },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: [dynamodbLocal] },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'] },
      },
    ],
  },
});
