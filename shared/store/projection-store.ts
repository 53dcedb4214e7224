import {
  DeleteCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import type { ClusterState } from '#domain/evolve.ts';
import {
  clusterSummaryOf,
  projectedOf,
  rowItem,
  summaryItem,
  SUMMARY_DBID,
  SUMMARY_FIELDS,
} from '#store/configuration-items.ts';
import { writeInBatches } from '#store/batch-write.ts';
import { scanAll } from '#store/clients.ts';
import type { ClusterSummary, ProjectedConfiguration, ProjectionStorePort } from '#store/ports.ts';
import type { TableNames } from '#store/tables.ts';

/**
 * The read side: gp_segment_configuration per cluster (one item per dbid) and a summary item
 * (dbid 0) with `lastSeq` and the rest of the folded state. Writes are monotonic in seq, so
 * a late or repeated projector can never move a row backwards.
 */
export class ProjectionStore implements ProjectionStorePort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
  ) {}

  /** Every item of the cluster, or only the attributes `projection` names. */
  private async items(clusterId: string, projection?: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tables.configuration,
          KeyConditionExpression: 'clusterId = :c',
          ExpressionAttributeValues: { ':c': clusterId },
          ...(projection ? { ProjectionExpression: projection } : {}),
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  async read(clusterId: string): Promise<ProjectedConfiguration> {
    return projectedOf(await this.items(clusterId));
  }

  /**
   * Writes `next` over `previous`: changed rows first (each guarded by its own seq), then the
   * summary, conditional on still being at `previous.seq`. Returns false when another
   * projector got there first; the rows it wrote are then no newer than what is stored.
   */
  async write(clusterId: string, previous: ClusterState, next: ClusterState): Promise<boolean> {
    const changed = [...next.segments.values()].filter(
      (row) => previous.segments.get(row.dbid) !== row,
    );
    const guard = {
      TableName: this.tables.configuration,
      ConditionExpression: 'attribute_not_exists(projectedSeq) OR projectedSeq <= :seq',
      ExpressionAttributeValues: { ':seq': next.seq },
    };
    const writes = [
      ...changed.map((row) => ({ Put: { ...guard, Item: rowItem(clusterId, row, next.seq) } })),
      // A row the state no longer has (the old coordinator after gpactivatestandby: capture 129).
      ...[...previous.segments.keys()]
        .filter((dbid) => !next.segments.has(dbid))
        .map((dbid) => ({ Delete: { ...guard, Key: { clusterId, dbid } } })),
    ];
    for (let i = 0; i < writes.length; i += 100) {
      const group = writes.slice(i, i + 100);
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: group }));
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        // Some row is already newer: write the others one by one, each under its own guard.
        for (const write of group) {
          try {
            if ('Put' in write) await this.doc.send(new PutCommand(write.Put));
            else await this.doc.send(new DeleteCommand(write.Delete));
          } catch (inner) {
            if (!(inner instanceof ConditionalCheckFailedException)) throw inner;
          }
        }
      }
    }
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tables.configuration,
          Item: summaryItem(clusterId, next),
          ConditionExpression:
            previous.seq === 0
              ? 'attribute_not_exists(lastSeq) OR lastSeq < :seq'
              : 'lastSeq = :prev',
          ExpressionAttributeValues:
            previous.seq === 0 ? { ':seq': next.seq } : { ':prev': previous.seq },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * A Scan, not a Query: the list is for the few clusters of one deployment, and reads only
   * their summary items' fields.
   */
  async list(): Promise<ClusterSummary[]> {
    const summaries = await scanAll(this.doc, {
      TableName: this.tables.configuration,
      FilterExpression: 'dbid = :summary',
      ProjectionExpression: SUMMARY_FIELDS.join(', '),
      ExpressionAttributeValues: { ':summary': SUMMARY_DBID },
    });
    return summaries.map(clusterSummaryOf);
  }

  /**
   * Replaces the cluster's projection with `state` whole (a rebuild): the rows the state no
   * longer has deleted, its rows put, in parallel batches, and the summary last, once every row
   * has landed, so that no reader sees a summary newer than its rows. A write that fails leaves
   * the summary as it was (and the rows in between): a rebuild again finishes it.
   */
  async replace(clusterId: string, state: ClusterState): Promise<void> {
    const stale = (await this.items(clusterId, 'dbid'))
      .map((item) => item.dbid as number)
      .filter((dbid) => dbid !== SUMMARY_DBID && !state.segments.has(dbid));
    await writeInBatches(this.doc, this.tables.configuration, clusterId, [
      ...stale.map((dbid) => ({ DeleteRequest: { Key: { clusterId, dbid } } })),
      ...[...state.segments.values()].map((row) => ({
        PutRequest: { Item: rowItem(clusterId, row, state.seq) },
      })),
    ]);
    await this.doc.send(
      new PutCommand({ TableName: this.tables.configuration, Item: summaryItem(clusterId, state) }),
    );
  }
}
