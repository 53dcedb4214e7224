import { vi } from 'vitest';

/*
 * The integration, model and e2e files share their worker's module cache (isolate: false):
 * the SDK, aws-local-stepfunctions and the rest of node_modules load once per worker instead
 * of once per file (23 s of CPU in a run of the suite). Each file still starts as in a process of
 * its own: with the environment the worker started with, and with this repository's modules
 * evaluated afresh, for the deployed handlers build their dependencies (stores, cluster
 * backend) from the environment once, as in a Lambda container, and a local runtime sets that
 * environment for its own tables.
 */
const worker = globalThis as { recoversegWorkerEnv?: Record<string, string | undefined> };
const started = (worker.recoversegWorkerEnv ??= { ...process.env });
for (const key of Object.keys(process.env)) if (!(key in started)) delete process.env[key];
Object.assign(process.env, started);
vi.resetModules();
