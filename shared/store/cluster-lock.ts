import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { ClusterLocked } from '#store/errors.ts';
import type { ClusterLockPort, LockInfo } from '#store/ports.ts';
import type { TableNames } from '#store/tables.ts';

/**
 * One recovery per cluster, as a conditional item. The holder is the workflow execution; the
 * expiry (epoch seconds, also the table's TTL) lets a crashed run free the cluster eventually.
 */
export class ClusterLock implements ClusterLockPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
  ) {}

  private key(clusterId: string) {
    return { pk: `lock#${clusterId}`, sk: 'lock' };
  }

  /** Takes the lock, or renews it for the same holder; throws ClusterLocked otherwise. */
  async acquire(
    clusterId: string,
    holder: string,
    incidentId: string,
    nowSeconds: number,
    ttlSeconds: number,
  ): Promise<LockInfo> {
    const info: LockInfo = {
      holder,
      incidentId,
      acquiredAt: nowSeconds,
      expiresAt: nowSeconds + ttlSeconds,
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tables.control,
          Item: { ...this.key(clusterId), ...info },
          ConditionExpression: 'attribute_not_exists(pk) OR holder = :holder OR expiresAt < :now',
          ExpressionAttributeValues: { ':holder': holder, ':now': nowSeconds },
        }),
      );
      return info;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.read(clusterId);
      throw new ClusterLocked(
        clusterId,
        current?.holder ?? 'another execution',
        current?.expiresAt ?? nowSeconds,
      );
    }
  }

  /** Releases the lock if `holder` still has it; releasing twice is harmless. */
  async release(clusterId: string, holder: string): Promise<boolean> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tables.control,
          Key: this.key(clusterId),
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': holder },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async read(clusterId: string): Promise<LockInfo | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tables.control,
        Key: this.key(clusterId),
        ConsistentRead: true,
      }),
    );
    return Item
      ? {
          holder: Item.holder,
          incidentId: Item.incidentId,
          acquiredAt: Item.acquiredAt,
          expiresAt: Item.expiresAt,
        }
      : undefined;
  }
}
