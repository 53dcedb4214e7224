import type { SSMClient } from '@aws-sdk/client-ssm';
import * as z from '#domain/zod.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { instanceIdSchema } from '#cluster/host-instances.ts';
import type { CommandOutputBucket } from '#cluster/ssm/output.ts';
import { runCommand, runOnCoordinator, type RunCommandSettings } from '#cluster/ssm/run-command.ts';
import { scriptCommands, type StagingOptions } from '#cluster/ssm/script.ts';
import type { CoordinatorTransport, ScriptRequest } from './transport.ts';

export interface SsmTransportOptions {
  ssm: SSMClient;
  /** The coordinator's EC2 instance (or SSM managed instance) id. */
  instanceId: string;
  /** The cluster host this instance is (`smdw`), to name it in errors. */
  host?: string;
  pollIntervalMs?: number;
  /** Per Run Command; long operations are start-then-poll, so this stays short. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** The stack's Run Command output bucket: answers over SSM's inline limit are read there. */
  output?: CommandOutputBucket;
  staging?: StagingOptions;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** S3's bucket naming rules; the name reaches SendCommand and IAM resources. */
export const bucketNameSchema = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'));

/**
 * SSM Run Command (AWS-RunShellScript runs as root, so the script goes through
 * `sudo -u ADMIN -H`). Its answer comes back gzip+base64 on one line: up to about 2,000
 * segments it fits SSM's 24,000-character inline output, and beyond that it is read from the
 * output bucket. A script too large for one command is sent compressed, or in pieces.
 */
export class SsmTransport implements CoordinatorTransport {
  readonly coordinator: string;
  readonly encoding = 'gzip-base64' as const;
  private readonly settings: RunCommandSettings;
  private readonly staging: StagingOptions;

  constructor(options: SsmTransportOptions) {
    const instanceId = parseOrThrow(instanceIdSchema, options.instanceId, 'instanceId');
    this.coordinator =
      options.host === undefined ? `${instanceId} (SSM)` : `${options.host} (${instanceId}, SSM)`;
    this.settings = {
      ssm: options.ssm,
      instanceId,
      ...(options.host === undefined ? {} : { host: options.host }),
      pollIntervalMs: options.pollIntervalMs ?? 2_000,
      timeoutMs: options.timeoutMs ?? 120_000,
      sleep: options.sleep ?? sleepFor,
      ...(options.output
        ? {
            output: {
              s3: options.output.s3,
              bucket: parseOrThrow(bucketNameSchema, options.output.bucket, 'output.bucket'),
            },
          }
        : {}),
    };
    this.staging = options.staging ?? {};
  }

  async run({ what, script, adminUser, timeoutMs }: ScriptRequest): Promise<string> {
    const { staging, run } = scriptCommands(what, script, adminUser, this.staging);
    for (const [index, command] of staging.entries())
      await runCommand(this.settings, `${what} (piece ${index + 1} of ${staging.length})`, command);
    return runOnCoordinator(
      timeoutMs === undefined ? this.settings : { ...this.settings, timeoutMs },
      what,
      run,
    );
  }
}
