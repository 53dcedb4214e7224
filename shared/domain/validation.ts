import type * as z from '#domain/zod.ts';
import { ValidationError } from '#domain/errors.ts';

/** `events[3].data.dbid` style path of a zod issue. */
export function issuePath(path: readonly PropertyKey[], root = ''): string {
  let out = root;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

/**
 * Parses `value` or throws a ValidationError naming the first bad field, e.g.
 * `events[0].data.dbid: Invalid input: expected number, received string`.
 */
export function parseOrThrow<S extends z.ZodMiniType>(
  schema: S,
  value: unknown,
  root = '',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issuePath(issue.path, root);
  throw new ValidationError(`${path}: ${issue.message}`, path);
}
