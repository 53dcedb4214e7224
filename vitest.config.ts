import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Starts (once per run, shared by every project that lists it) the JVM of DynamoDB Local. */
const dynamodbLocal = 'test/global-setup.ts';

/**
 * The projects that run the local runtime share their worker's module cache, and start each
 * file with the worker's environment and this repository's modules evaluated afresh.
 */
const sharedWorker = { isolate: false, setupFiles: ['test/fresh-modules.ts'] };

/**
 * The projects from the longest files to the shortest (a file's project, then its size). infra
 * comes second: its bundled synth (about 25 s of esbuild since the SDK is bundled) started after
 * the e2e files left one core idle at the end (a fresh clone: 126 s, 113 s with infra second).
 * The races (a project of their own, with the integration files' setup) come right after the
 * model files, beside the synth: the longest file (10 to 35 s, 50 appenders backing off), it
 * started last of the integration files and ran alone at the end (`--reporter=json`: it began
 * at 97 s and 101 s of 146 s and 134 s; first after the model files, at 11 s and 34 s).
 */
const LONGEST_FIRST = ['model', 'races', 'infra', 'e2e', 'integration', 'unit-lambdas', 'unit'];

/**
 * The files of 5 s or more (`npm test -- --reporter=json` on two cores), longest first: each
 * starts before the other files of its project. A scheduling hint for a fresh clone, which has
 * no durations cached and ordered them by size (the 15-second serve-kill file started last of
 * e2e). Projects stay in their order: the model, races and transports files together starved
 * each other's DynamoDB Local and took 20 s longer.
 */
const LONG_FILES = [
  'test/e2e/dashboard.test.ts',
  'test/infra/bundle.test.ts',
  'test/races/races.test.ts',
  'test/e2e/serve-kill.test.ts',
  'test/e2e/serve-watch.test.ts',
  'test/model/crash-injection.test.ts',
  'test/model/recovery.model.test.ts',
  'test/e2e/cli.test.ts',
  'test/integration/cluster/transports.test.ts',
  'test/e2e/demo.test.ts',
  'test/infra/nag.test.ts',
];

/**
 * The long files start first, so that the short ones fill the gaps at the end: on two cores a
 * 40-second model file started last is 40 seconds of one idle core.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => LONGEST_FIRST.indexOf(file.project.name);
    const long = (file: TestSpecification) => {
      const at = LONG_FILES.findIndex((name) => file.moduleId.endsWith(name));
      return at < 0 ? LONG_FILES.length : at;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b) || long(a) - long(b));
  }
}

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
    sequence: { sequencer: LongestFirst },
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
          include: ['test/integration/**/*.test.ts'],
          globalSetup: [dynamodbLocal],
          ...sharedWorker,
        },
      },
      {
        extends: true,
        test: {
          name: 'races',
          include: ['test/races/**/*.test.ts'],
          globalSetup: [dynamodbLocal],
          ...sharedWorker,
        },
      },
      {
        extends: true,
        test: {
          name: 'model',
          include: ['test/model/**/*.test.ts'],
          globalSetup: [dynamodbLocal],
          ...sharedWorker,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: [dynamodbLocal],
          ...sharedWorker,
        },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          // One import of aws-cdk-lib per worker instead of one per file (a third of the
          // project's time); every file builds its own App and stacks.
          isolate: false,
        },
      },
    ],
  },
});
