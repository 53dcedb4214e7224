import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StandbyConfirmation } from '#domain/coordinator.ts';
import type { StandbyConfirmationPort } from '#store/ports.ts';
import type { TableNames } from '#store/tables.ts';

/**
 * The standby's last confirmation, one item per cluster in the Control table. A put only moves
 * it forward in time, so two looks racing (Lambda and a late retry) never step it back.
 */
export class StandbyConfirmationItem implements StandbyConfirmationPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
  ) {}

  private key(clusterId: string) {
    return { pk: `standby#${clusterId}`, sk: 'confirmed' };
  }

  async confirm(clusterId: string, confirmation: StandbyConfirmation): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tables.control,
          Item: { ...this.key(clusterId), ...confirmation },
          ConditionExpression: 'attribute_not_exists(pk) OR #at < :at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':at': confirmation.at },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async read(clusterId: string): Promise<StandbyConfirmation | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tables.control,
        Key: this.key(clusterId),
        ConsistentRead: true,
      }),
    );
    return Item
      ? {
          standbyDbid: Item.standbyDbid as number,
          observationSeq: Item.observationSeq as number,
          at: Item.at as string,
        }
      : undefined;
  }
}
