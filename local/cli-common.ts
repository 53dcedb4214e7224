import { readFileSync } from 'node:fs';
import { prefixedTableNames } from '#store/tables.ts';
import type { LocalStore } from '#local/runtime.ts';

/** Wrong usage or input: one line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A JSON file that is not JSON: an invalid scenario (exit 2), named like the scenario's errors. */
export class InvalidJsonFile extends Error {
  override name = 'InvalidScenario';
}

export function integer(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`--${flag} ${value}: expected a whole number >= ${min}`);
  return Number(value);
}

export function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonFile(`${file}: not JSON (${(error as Error).message})`);
  }
}

/** `--dynamodb-local URL --table-prefix P`, validated before anything starts. */
export function localStore(values: Record<string, string | undefined>): LocalStore {
  const url = values['dynamodb-local'];
  const prefix = values['table-prefix'];
  if (url !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(url))
    throw new UsageError(
      `--dynamodb-local ${url}: expected the URL of a running DynamoDB Local, such as http://127.0.0.1:8000`,
    );
  // DynamoDB's table-name characters, short enough for the longest of our names.
  if (prefix !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
    throw new UsageError(
      `--table-prefix ${prefix}: expected 1 to 64 letters, digits, '_', '.' or '-'`,
    );
  return {
    ...(url === undefined ? {} : { endpoint: url.replace(/\/$/, '') }),
    ...(prefix === undefined ? {} : { tables: prefixedTableNames(prefix) }),
  };
}
