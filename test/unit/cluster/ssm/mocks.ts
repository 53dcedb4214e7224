import type { Readable } from 'node:stream';
import { S3Client, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach } from 'vitest';

export const INSTANCE = 'i-0123456789abcdef0';
export const OUTPUT_BUCKET = 'recoverseg-run-command-output-example';

/**
 * SSM and S3 mocked for one test file, reset before each test and restored after the file:
 * the worker's other files share the SDK and must find its clients unmocked.
 */
export function mockSsmAndS3() {
  const ssm = mockClient(SSMClient);
  const s3 = mockClient(S3Client);
  beforeEach(() => {
    ssm.reset();
    s3.reset();
  });
  afterAll(() => {
    ssm.restore();
    s3.restore();
  });
  return { ssm, s3 };
}

/** In Node the SDK's GetObject body is a Readable (its added helpers are not used by the reader). */
export const objectBody = (readable: Readable): GetObjectCommandOutput['Body'] =>
  readable as unknown as GetObjectCommandOutput['Body'];
