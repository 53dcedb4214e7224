import { readFileSync } from 'node:fs';

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
