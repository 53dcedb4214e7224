/**
 * The tables, defined once: the CDK stack and the local runtime (DynamoDB Local) both build
 * them from these definitions, so local runs use the very keys and streams AWS gets.
 */
export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface TableDefinition {
  /** CloudFormation logical id and the local table name. */
  id: string;
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
  stream?: 'NEW_IMAGE';
  timeToLiveAttribute?: string;
  /** The environment variable a Lambda reads the table name from. */
  env: string;
}

export const TABLES = {
  /** One item per event (seq 1, 2, 3 …) plus the stream head (seq 0). */
  eventLog: {
    id: 'EventLog',
    partitionKey: { name: 'clusterId', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    stream: 'NEW_IMAGE',
    env: 'EVENT_LOG_TABLE',
  },
  /** gp_segment_configuration, one item per dbid, plus the cluster summary at dbid 0. */
  configuration: {
    id: 'Configuration',
    partitionKey: { name: 'clusterId', type: 'S' },
    sortKey: { name: 'dbid', type: 'N' },
    env: 'CONFIGURATION_TABLE',
  },
  /** Small coordination items: cluster locks, idempotency keys, snapshots, the simulator. */
  control: {
    id: 'Control',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    env: 'CONTROL_TABLE',
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof TABLES;
export type TableNames = Record<TableKey, string>;

const names = (name: (definition: TableDefinition) => string): TableNames =>
  Object.fromEntries(
    Object.entries(TABLES).map(([key, definition]) => [key, name(definition)]),
  ) as TableNames;

/** Table names from the environment (set by CDK), defaulting to the local names. */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames {
  return names((t) => env[t.env] ?? t.id);
}

/** Each table's name with a prefix: tables of their own for a test or a benchmark. */
export const prefixedTableNames = (prefix: string): TableNames => names((t) => `${prefix}-${t.id}`);

/** The environment a Lambda reads its table names from (see tableNamesFromEnv). */
export const tableEnvironment = (tables: TableNames): Record<string, string> =>
  Object.fromEntries(Object.entries(TABLES).map(([key, t]) => [t.env, tables[key as TableKey]]));
