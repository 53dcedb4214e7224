import { inject } from 'vitest';

let sharedStores = 0;

/**
 * The flags that point a spawned `recoverseg demo|scenario|serve` at the run's DynamoDB Local,
 * in tables of its own, instead of starting a JVM of its own (seconds of CPU each).
 */
export function sharedDynamoFlags(name: string): string[] {
  return [
    '--dynamodb-local',
    inject('dynamodbEndpoint'),
    '--table-prefix',
    `${name}-${process.pid}-${++sharedStores}`,
  ];
}
