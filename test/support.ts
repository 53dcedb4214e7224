import { inject } from 'vitest';
import { createDynamoClient, createDocumentClient } from '#store/clients.ts';
import { createIsolatedTables } from '#local/dynamodb-local.ts';
import type { TableNames } from '#store/tables.ts';
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
