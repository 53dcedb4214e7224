import { inject } from 'vitest';
import { createDynamoClient, createDocumentClient } from '#store/clients.ts';
import { createIsolatedTables } from '#local/dynamodb-local.ts';
import type { TableNames } from '#store/tables.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { PhaseRecorder } from '#local/scenario.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tables: TableNames;
}

/** The run's DynamoDB Local with a fresh set of tables for the calling test file. */
export async function localDynamo(prefix = 'test'): Promise<LocalDynamo> {
  const endpoint = inject('dynamodbEndpoint');
  const client = createDynamoClient(endpoint);
  const tables = await createIsolatedTables(client, prefix);
  return { endpoint, client, doc: createDocumentClient(client), tables };
}

/**
 * The deployed workflow on the run's DynamoDB Local, in fresh tables, with a PhaseRecorder
 * attached: what the e2e tests share. The definition is the one `infra/` defines (the CLI
 * tests cover the synthesized template).
 */
export async function localWorkflowRuntime(
  prefix: string,
): Promise<{ runtime: LocalRuntime; recorder: PhaseRecorder }> {
  const endpoint = inject('dynamodbEndpoint');
  const tables = await createIsolatedTables(createDynamoClient(endpoint), prefix);
  const recorder = new PhaseRecorder();
  const runtime = await startLocalRuntime({
    endpoint,
    tables,
    definition: workflowDefinition(),
    observer: recorder,
  });
  recorder.attach(runtime);
  return { runtime, recorder };
}
