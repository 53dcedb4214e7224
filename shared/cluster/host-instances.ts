import * as z from '#domain/zod.ts';
import { ValidationError } from '#domain/errors.ts';
import { hostnameSchema } from '#domain/segment.ts';

// Which SSM instance each host of the cluster is: the stack's setting, read by the transports
// (transport/hosts.ts) and the EC2 fence. Apart from the transports, so that a Task reading it
// does not hold them and the SSM client.

/** The environment variable mapping each host to its SSM instance, as JSON. */
export const HOST_INSTANCES_ENV = 'CLUSTER_HOST_INSTANCES';

/** The id goes into SendCommand and its IAM resource: a typo must fail here, not as AccessDenied. */
export const instanceIdSchema = z
  .string()
  .check(
    z.regex(
      /^m?i-[0-9a-f]{8,17}$/,
      'must be an EC2 instance id (i-…) or SSM managed instance id (mi-…)',
    ),
  );

const hostInstancesSchema = z.record(hostnameSchema, instanceIdSchema);

/**
 * `{"mdw":"i-…","smdw":"i-…"}`: each catalog host name and its instance. Unset or empty is no
 * host at all; anything else must be that object, or the deployment stops here, naming it.
 */
export function parseHostInstances(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError(
      `${HOST_INSTANCES_ENV}: must be JSON such as {"mdw":"i-0123456789abcdef0"}, got ${JSON.stringify(text.slice(0, 40))}`,
      HOST_INSTANCES_ENV,
    );
  }
  const parsed = hostInstancesSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `.${issue.path.join('.')}` : '';
    throw new ValidationError(
      `${HOST_INSTANCES_ENV}${where}: ${issue.message}`,
      `${HOST_INSTANCES_ENV}${where}`,
    );
  }
  return parsed.data;
}
