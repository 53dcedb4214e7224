import { fileURLToPath } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { workflowDefinition } from '#infra/state-machine.ts';
import { createIsolatedTables, startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { PhaseRecorder } from '#local/scenario.ts';
import { createDocumentClient, createDynamoClient } from '#store/clients.ts';
import { EventStore } from '#store/event-store.ts';
import type { TableNames } from '#store/tables.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** One line of README's figures table (see bench/figures.ts). */
export interface Row {
  figure: string;
  value: string;
  target?: string;
}

/**
 * What a measurement returns: its figures, as they go into bench/results.json, and the rows it
 * contributes to README's figures table.
 */
export type Figures = Record<string, unknown> & { readme: Row[] };

export interface LocalDynamoDb {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** A fresh set of the stack's tables, names prefixed. */
  fresh(prefix: string): Promise<TableNames>;
}

export interface BenchContext {
  /** `--quick`: fewer runs and smaller loads, for a first look. */
  quick: boolean;
  /** DynamoDB Local, started and warmed by the first measurement that asks for it. */
  dynamodb(): Promise<LocalDynamoDb>;
  /**
   * The local workflow on that DynamoDB Local, one per run: the handlers keep their stores
   * (table names from the environment) for the life of the process, as in a Lambda container.
   */
  workflow(): Promise<LocalWorkflowRun>;
}

export interface LocalWorkflowRun {
  runtime: LocalRuntime;
  recorder: PhaseRecorder;
}

export type Measurement = (context: BenchContext) => Promise<Figures>;

export const log = (line: string) => process.stderr.write(`${line}\n`);
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const round = (x: number, digits = 0) => Number(x.toFixed(digits));
export const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

export async function time<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

/** The context `bench/run.ts` hands each measurement; `close` stops what was started. */
export function benchContext(quick: boolean): BenchContext & { close(): Promise<void> } {
  let started: Promise<{ local: LocalDynamoDb; stop(): Promise<void> }> | undefined;
  let workflow: Promise<LocalWorkflowRun> | undefined;
  const start = async () => {
    const ddb = await startDynamoDbLocal();
    const client = createDynamoClient(ddb.endpoint);
    const local: LocalDynamoDb = {
      endpoint: ddb.endpoint,
      client,
      doc: createDocumentClient(client),
      fresh: (prefix) => createIsolatedTables(client, prefix),
    };
    log(`DynamoDB Local on ${ddb.endpoint}`);
    // DynamoDB Local's first thousand requests are several times slower (the JVM warms up);
    // with --quick the seed's warm-up run does it.
    if (!quick) await warm(local);
    return {
      local,
      stop: async () => {
        client.destroy();
        await ddb.stop();
      },
    };
  };
  const dynamodb = async () => (await (started ??= start())).local;
  const startWorkflow = async (): Promise<LocalWorkflowRun> => {
    const local = await dynamodb();
    const recorder = new PhaseRecorder();
    const runtime = await startLocalRuntime({
      endpoint: local.endpoint,
      tables: await local.fresh('workflow'),
      definition: workflowDefinition(),
      observer: recorder,
    });
    recorder.attach(runtime);
    return { runtime, recorder };
  };
  return {
    quick,
    dynamodb,
    workflow: () => (workflow ??= startWorkflow()),
    close: async () => {
      if (workflow) await (await workflow).runtime.stop();
      if (started) await (await started).stop();
    },
  };
}

async function warm(local: LocalDynamoDb): Promise<void> {
  const store = new EventStore(local.doc, await local.fresh('warm'));
  for (let i = 0; i < 300; i++)
    await store.append('warm', [{ type: 'PairSynchronized', data: { content: 0 } }], {
      expectedSeq: i,
      idempotencyKey: `w${i}`,
      at: new Date().toISOString(),
    });
  await store.read('warm');
}
