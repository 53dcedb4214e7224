import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '#store/clients.ts';
import { ClusterLock } from '#store/cluster-lock.ts';
import { StandbyConfirmationItem } from '#store/standby-confirmation.ts';
import { EventStore } from '#store/event-store.ts';
import { ProjectionStore } from '#store/projection-store.ts';
import type { StorePorts } from '#store/ports.ts';
import { Projector } from '#store/projector.ts';
import { tableNamesFromEnv, type TableNames } from '#store/tables.ts';

/** The store port on DynamoDB, with the client and tables for what only DynamoDB does (scans, the simulator's state). */
export interface Stores extends StorePorts {
  doc: DynamoDBDocumentClient;
  tables: TableNames;
  events: EventStore;
  projection: ProjectionStore;
  projector: Projector;
  lock: ClusterLock;
  standby: StandbyConfirmationItem;
}

export function createStores(doc: DynamoDBDocumentClient, tables: TableNames): Stores {
  const events = new EventStore(doc, tables);
  const projection = new ProjectionStore(doc, tables);
  return {
    doc,
    tables,
    events,
    projection,
    projector: new Projector(events, projection),
    lock: new ClusterLock(doc, tables),
    standby: new StandbyConfirmationItem(doc, tables),
  };
}

let shared: Stores | undefined;

/** The stores a Lambda container keeps between invocations. */
export function stores(): Stores {
  shared ??= createStores(documentClient(), tableNamesFromEnv());
  return shared;
}
