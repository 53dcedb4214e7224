import { gunzipSync, gzipSync } from 'node:zlib';
import {
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { SimulatedClusterBusy, SimulatedStateTooLarge } from '#cluster/simulated/errors.ts';
import { simulationOptionsSchema } from '#cluster/simulated/options.ts';
import {
  INITIAL_COORDINATOR_WAL_BYTES,
  type SimulatedClusterState,
} from '#cluster/simulated/model.ts';

/** Under DynamoDB's 400 KB item limit with room for the keys. */
export const DEFAULT_CHUNK_BYTES = 350_000;
/** One TransactWriteItems carries at most 4 MB and 100 items. */
const MAX_STATE_BYTES = 3_500_000;
const MAX_TRANSACTION_ITEMS = 100;
const HEAD = 'state';
const CHUNK_PREFIX = 'chunk#';
const LOAD_ATTEMPTS = 10;

const chunkKey = (index: number): string => `${CHUNK_PREFIX}${String(index).padStart(5, '0')}`;

export interface StoredVersion {
  version: number;
  chunks: number;
}

export interface LoadedState extends StoredVersion {
  state: SimulatedClusterState;
}

/** Where one simulated cluster's state is kept, versioned so that concurrent writers never interleave. */
export interface SimulatedStates {
  load(): Promise<LoadedState | undefined>;
  /** Writes `state` as the version after `previous`; false when another writer got there first. */
  save(state: SimulatedClusterState, previous: StoredVersion | undefined): Promise<boolean>;
}

/**
 * One simulated cluster's state in the Control table under `sim#<clusterId>`: a head item (`sk` "state") holding the
 * version and chunk count, and the gzipped JSON split over `chunk#NNNNN` items. A write replaces
 * head and chunks in one transaction conditioned on the version it read, so concurrent writers
 * never interleave; a reader that sees chunks of another version than the head reads again.
 */
export class SimulatedStateStore implements SimulatedStates {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly clusterId: string,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  private get pk(): string {
    return `sim#${this.clusterId}`;
  }

  async load(): Promise<LoadedState | undefined> {
    for (let attempt = 0; attempt < LOAD_ATTEMPTS; attempt++) {
      const items = await this.queryAll();
      const head = items.find((item) => item.sk === HEAD);
      if (!head) return undefined;
      const version = head.version as number;
      const chunks = items
        .filter((item) => String(item.sk).startsWith(CHUNK_PREFIX) && item.version === version)
        .sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
      if (chunks.length !== head.chunks) continue;
      const body = Buffer.concat(chunks.map((item) => item.data as Uint8Array));
      const state = JSON.parse(gunzipSync(body).toString('utf8')) as SimulatedClusterState;
      // A state saved before the mirror-down grace period, promotions or the standby's WAL were
      // simulated (`serve --data DIR`) gets those options' defaults, no mirror waiting out its
      // grace, no promotion under way, and a standby in sync.
      state.options = simulationOptionsSchema.parse(state.options);
      state.unreachableMirrors ??= {};
      state.promotions ??= {};
      state.coordinatorWalBytes ??= INITIAL_COORDINATOR_WAL_BYTES;
      state.standbyBehindBytes ??= 0;
      state.leftDirectories ??= [];
      return { state, version, chunks: chunks.length };
    }
    throw new SimulatedClusterBusy(this.clusterId, LOAD_ATTEMPTS);
  }

  /**
   * Writes `state` as the version after `previous` (or as the first one). Returns false when
   * another writer got there first: the caller re-reads and re-applies its change.
   */
  async save(state: SimulatedClusterState, previous: StoredVersion | undefined): Promise<boolean> {
    const body = gzipSync(JSON.stringify(state));
    const count = Math.max(1, Math.ceil(body.length / this.chunkBytes));
    const stale = Math.max(0, (previous?.chunks ?? 0) - count);
    if (body.length > MAX_STATE_BYTES || count + stale + 1 > MAX_TRANSACTION_ITEMS)
      throw new SimulatedStateTooLarge(
        `simulated cluster ${this.clusterId}: its state is ${body.length} bytes compressed, over the ${MAX_STATE_BYTES} bytes one transaction can write: simulate fewer segments`,
      );
    const version = (previous?.version ?? 0) + 1;
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk: this.pk, sk: HEAD, version, chunks: count, bytes: body.length },
                ...(previous
                  ? {
                      ConditionExpression: 'version = :version',
                      ExpressionAttributeValues: { ':version': previous.version },
                    }
                  : { ConditionExpression: 'attribute_not_exists(pk)' }),
              },
            },
            ...Array.from({ length: count }, (_, i) => ({
              Put: {
                TableName: this.table,
                Item: {
                  pk: this.pk,
                  sk: chunkKey(i),
                  version,
                  data: body.subarray(i * this.chunkBytes, (i + 1) * this.chunkBytes),
                },
              },
            })),
            ...Array.from({ length: stale }, (_, i) => ({
              Delete: { TableName: this.table, Key: { pk: this.pk, sk: chunkKey(count + i) } },
            })),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (lostRace(error)) return false;
      throw error;
    }
  }

  private async queryAll(): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': this.pk },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}

/** The version condition failed, or another transaction held the items. */
function lostRace(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TransactionConflictException') return true;
  if (error.name !== 'TransactionCanceledException') return false;
  const reasons =
    (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some(
    (r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict',
  );
}
