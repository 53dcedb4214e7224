import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { createDynamoClient, createDocumentClient } from '#store/clients.ts';
import { createStores, type Stores } from '#store/stores.ts';
import { TABLES, type TableNames } from '#store/tables.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { simulatorFor } from '#cluster/simulated/backend.ts';
import type { ApiDeps } from '#api/routes.ts';
import {
  DynamoDbLocalUnavailable,
  createTables,
  startDynamoDbLocal,
  type DynamoDbLocal,
} from '#local/dynamodb-local.ts';
import { LocalStreamPoller } from '#local/stream-poller.ts';
import {
  LocalWorkflow,
  deployedTaskInvoker,
  loadDeployedHandlers,
  type RunInputs,
  type TaskInvoker,
  type TaskObserver,
} from '#local/workflow-runner.ts';
import type { StepDeps } from '#app/steps.ts';

export interface LocalRuntimeOptions {
  /** Use a running DynamoDB Local (or any endpoint) instead of starting one. */
  endpoint?: string;
  port?: number;
  dataDir?: string;
  tables?: TableNames;
  /** A promise is awaited while DynamoDB Local starts: both take a while. */
  definition: Record<string, unknown> | Promise<Record<string, unknown>>;
  observer?: TaskObserver;
  /** Every Wait state and retry of the workflow pauses this many ms (a demo's pace). */
  pauseMs?: number;
  invoke?: TaskInvoker;
  /** Clock of the simulated clusters, ms. */
  clock?: () => number;
  /**
   * A real cluster instead of simulated ones: the environment the deployed handlers read
   * (`CLUSTER_BACKEND` local or ssh, `CLUSTER_ID`, `COORDINATOR_HOST`, `GPHOME`, ...).
   */
  realCluster?: Readonly<Record<string, string>>;
  /** Where each run's input is kept for a restarted serve to resume it (serve --data). */
  inputs?: RunInputs;
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH']);

/** Where the tables live: a DynamoDB Local started here (the default) or one already running. */
export type LocalStore = Pick<LocalRuntimeOptions, 'endpoint' | 'tables'>;

export interface LocalRuntime {
  endpoint: string;
  client: DynamoDBClient;
  stores: Stores;
  workflow: LocalWorkflow;
  poller: LocalStreamPoller;
  api: ApiDeps;
  steps: Omit<StepDeps, 'notifier'>;
  stop(): Promise<void>;
}

/**
 * The deployed system on one machine: DynamoDB Local with the stack's tables, the projector
 * handler on the event log's stream, and the state machine run by aws-local-stepfunctions with
 * each Task mapped to its deployed handler module. The handler modules read the same
 * environment variables as in Lambda, pointed here.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const starting =
    options.endpoint === undefined
      ? startDynamoDbLocal({ port: options.port, dataDir: options.dataDir, quickStart: true })
      : undefined;
  const tables: TableNames = options.tables ?? {
    eventLog: TABLES.eventLog.id,
    configuration: TABLES.configuration.id,
    control: TABLES.control.id,
  };
  // The environment of the handlers, as in Lambda; DynamoDB Local's endpoint follows its start.
  Object.assign(process.env, options.realCluster ?? { CLUSTER_BACKEND: 'simulated' });
  const simulated = options.realCluster === undefined;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_TRACE_DISABLED ??= 'true';
  for (const key of Object.keys(TABLES) as (keyof TableNames)[])
    process.env[TABLES[key].env] = tables[key];

  // DynamoDB Local takes seconds to start: the definition and the handlers load meanwhile.
  const projector = import('#lambdas/project-configuration.ts') as Promise<{
    handler: (event: DynamoDBStreamEvent, context: never) => Promise<DynamoDBBatchResponse>;
  }>;
  let ddb: DynamoDbLocal | undefined;
  let definition: Record<string, unknown>;
  let project: Awaited<typeof projector>['handler'];
  try {
    [ddb, definition, { handler: project }] = await Promise.all([
      starting,
      options.definition,
      projector,
      options.invoke ? undefined : loadDeployedHandlers(),
    ]);
  } catch (error) {
    // One of them failed: DynamoDB Local may have started all the same, and stops with us.
    await starting?.then((started) => started.stop()).catch(() => {});
    throw error;
  }
  const endpoint = options.endpoint ?? ddb!.endpoint;
  process.env.DYNAMODB_ENDPOINT = endpoint;

  const client = createDynamoClient(endpoint);
  try {
    await createTables(client, tables);
  } catch (error) {
    client.destroy();
    await ddb?.stop();
    const code = (error as NodeJS.ErrnoException).code;
    // A DynamoDB Local named by its URL (--dynamodb-local) may not be running at all.
    throw options.endpoint !== undefined && code && NETWORK_ERRORS.has(code)
      ? new DynamoDbLocalUnavailable(
          `nothing answers at ${endpoint} (${code}): start DynamoDB Local there, or leave out --dynamodb-local to start one`,
        )
      : error;
  }
  const doc = createDocumentClient(client);
  const stores = createStores(doc, tables);
  const poller = new LocalStreamPoller(
    client,
    tables.eventLog,
    (Records) => project({ Records }, {} as never),
    {
      onError: (error) => console.error(`projector: ${(error as Error).message}`),
    },
  );
  poller.start();
  const clock = options.clock ?? Date.now;
  const cluster = (await loadClusterBackend(process.env))(doc, tables, clock);
  const workflow = new LocalWorkflow(
    definition,
    options.invoke ?? deployedTaskInvoker(),
    options.observer,
    options.pauseMs,
    options.inputs,
  );
  return {
    endpoint,
    client,
    stores,
    workflow,
    poller,
    api: {
      stores,
      starter: workflow,
      simulator: simulated ? simulatorFor(doc, tables, clock) : undefined,
      now: () => new Date(),
      cluster,
    },
    steps: {
      stores,
      cluster,
      now: () => new Date(),
    },
    stop: async () => {
      await workflow.settle();
      await poller.stop();
      client.destroy();
      await ddb?.stop();
    },
  };
}
