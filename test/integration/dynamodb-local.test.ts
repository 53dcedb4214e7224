import { describe, expect, it } from 'vitest';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { localDynamo } from '#test/support.ts';

describe('DynamoDB Local lifecycle', () => {
  it('answers on the shared endpoint with the project tables created', async () => {
    const { client, tables } = await localDynamo('lifecycle');
    const { TableNames = [] } = await client.send(new ListTablesCommand({}));
    expect(TableNames).toEqual(expect.arrayContaining(Object.values(tables)));
  });
});
