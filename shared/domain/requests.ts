import * as z from 'zod';
import { dbidSchema, hostnameSchema } from '#domain/segment.ts';

/**
 * The requests an operator makes, in one place: the API, the CLI and scenario files parse
 * them with these schemas, so a rule holds the same wherever the request comes from.
 */

/** A fault to inject into a simulated cluster (the CLI's `fail`, scenario `fail` steps). */
export const faultSchema = z.union([
  z.strictObject({ host: hostnameSchema, kind: z.literal('host-down').default('host-down') }),
  z.strictObject({ dbid: dbidSchema, kind: z.enum(['crash', 'disk-lost']).default('crash') }),
]);
export type Fault = z.infer<typeof faultSchema>;
