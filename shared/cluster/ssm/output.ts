import type * as s3 from '@aws-sdk/client-s3';
import { SsmOutputMissing, SsmOutputTooLarge } from '#cluster/greenplum/errors.ts';

/** Where SSM writes each command's full output: a bucket of the stack, under one prefix. */
export interface CommandOutputBucket {
  /**
   * The S3 client's module and client, made on first use (clientOnFirstUse): most answers are
   * whole inline, and a function that never reads the bucket should not load the S3 client.
   */
  s3: () => Promise<{ sdk: typeof s3; client: s3.S3Client }>;
  bucket: string;
}

/** The environment variable naming the bucket (the stack sets it on every function it grants). */
export const OUTPUT_BUCKET_ENV = 'RUN_COMMAND_OUTPUT_BUCKET';

/** The key prefix SendCommand is given; the stack scopes every grant on the bucket to it. */
export const RUN_COMMAND_OUTPUT_PREFIX = 'run-command';

/**
 * SSM Agent writes `<OutputS3KeyPrefix>/<command id>/<instance id>/<plugin>/<step>/stdout`;
 * AWS-RunShellScript's one step is `0.aws:runShellScript`, written without the colon. See the
 * CommandPlugin OutputS3KeyPrefix example in the SSM API reference and the agent's
 * fileutil.BuildS3Path calls.
 */
export const stdoutKey = (commandId: string, instanceId: string): string =>
  `${RUN_COMMAND_OUTPUT_PREFIX}/${commandId}/${instanceId}/awsrunShellScript/0.awsrunShellScript/stdout`;

/**
 * Far above any real answer (16,000 segments and their probe answers are 195,064 characters of
 * gzip+base64): an object this large was not written by a recoverseg script.
 */
export const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

const errorName = (error: unknown): string | undefined =>
  error instanceof Error ? error.name : undefined;

/** The whole stdout SSM wrote to S3 for one command on one instance. */
export async function readStdoutObject(
  output: CommandOutputBucket,
  commandId: string,
  instanceId: string,
): Promise<string> {
  const key = stdoutKey(commandId, instanceId);
  const location = `s3://${output.bucket}/${key}`;
  const { sdk, client } = await output.s3();
  let object;
  try {
    object = await client.send(new sdk.GetObjectCommand({ Bucket: output.bucket, Key: key }));
  } catch (error) {
    // NoSuchKey needs s3:ListBucket on the prefix; without it S3 answers AccessDenied instead.
    if (errorName(error) === 'NoSuchKey')
      throw new SsmOutputMissing(commandId, instanceId, location);
    throw error;
  }
  const declared = object.ContentLength ?? 0;
  if (declared > MAX_OUTPUT_BYTES)
    throw new SsmOutputTooLarge(commandId, location, declared, MAX_OUTPUT_BYTES);
  if (!object.Body) throw new SsmOutputMissing(commandId, instanceId, location);
  // Counted as it arrives: a length the response did not declare, or declared wrong, stops the
  // read at the limit instead of filling the function's memory.
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of object.Body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > MAX_OUTPUT_BYTES) {
      (object.Body as { destroy?: () => void }).destroy?.();
      throw new SsmOutputTooLarge(commandId, location, bytes, MAX_OUTPUT_BYTES);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
