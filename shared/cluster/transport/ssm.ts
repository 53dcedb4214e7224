import type { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { parseOrThrow } from '#domain/validation.ts';
import { shellQuote } from '#cluster/greenplum/shell.ts';
import { runOnCoordinator, type RunCommandSettings } from '#cluster/ssm/run-command.ts';
import type { CoordinatorTransport, ScriptRequest } from './transport.ts';

export interface SsmTransportOptions {
  ssm: SSMClient;
  /** The coordinator's EC2 instance (or SSM managed instance) id. */
  instanceId: string;
  pollIntervalMs?: number;
  /** Per Run Command; long operations are start-then-poll, so this stays short. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The id goes into SendCommand and its IAM resource: a typo must fail here, not as AccessDenied. */
export const instanceIdSchema = z
  .string()
  .regex(
    /^m?i-[0-9a-f]{8,17}$/,
    'must be an EC2 instance id (i-…) or SSM managed instance id (mi-…)',
  );

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * SSM Run Command (AWS-RunShellScript runs as root, so the script goes through
 * `sudo -u ADMIN -H`). Its answer comes back gzip+base64 on one line, so a large cluster's
 * configuration fits SSM's 24,000-character output limit.
 */
export class SsmTransport implements CoordinatorTransport {
  readonly coordinator: string;
  readonly encoding = 'gzip-base64' as const;
  private readonly settings: RunCommandSettings;

  constructor(options: SsmTransportOptions) {
    const instanceId = parseOrThrow(instanceIdSchema, options.instanceId, 'instanceId');
    this.coordinator = `${instanceId} (SSM)`;
    this.settings = {
      ssm: options.ssm,
      instanceId,
      pollIntervalMs: options.pollIntervalMs ?? 2_000,
      timeoutMs: options.timeoutMs ?? 120_000,
      sleep: options.sleep ?? sleepFor,
    };
  }

  run({ what, script, adminUser }: ScriptRequest): Promise<string> {
    return runOnCoordinator(
      this.settings,
      what,
      `sudo -u ${shellQuote(adminUser)} -H bash -c ${shellQuote(script)}`,
    );
  }
}
