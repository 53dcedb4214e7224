import { gunzipSync } from 'node:zlib';
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import {
  HostUnreachable,
  MalformedOutput,
  SsmCommandFailed,
  SsmCommandTimedOut,
  SsmOutputTruncated,
  SsmThrottled,
} from '#cluster/greenplum/errors.ts';
import { readStdoutObject, RUN_COMMAND_OUTPUT_PREFIX, type CommandOutputBucket } from './output.ts';

export interface RunCommandSettings {
  ssm: SSMClient;
  instanceId: string;
  /** The cluster host the instance is, when known: errors name it. */
  host?: string;
  pollIntervalMs: number;
  /** How long to wait for one Run Command to finish before giving up on it. */
  timeoutMs: number;
  sleep: (ms: number) => Promise<void>;
  /**
   * Where SSM also writes the whole output: every command asks for it, since how long an answer
   * is only shows once it ran; it is read from there only when the inline copy is cut off.
   */
  output?: CommandOutputBucket;
}

/** SSM keeps this much of a command's stdout in GetCommandInvocation. */
export const SSM_OUTPUT_LIMIT = 24_000;

/** Decompressed, far above any real answer (16,000 segments' catalog is about 1.1 MB). */
const MAX_DECODED_BYTES = 64 * 1024 * 1024;

const errorName = (error: unknown): string | undefined =>
  error instanceof Error ? error.name : undefined;

/** The host (or, unnamed, the instance) that did not take the command. */
const unreachable = ({ host, instanceId }: RunCommandSettings, detail: string) =>
  new HostUnreachable(
    [host ?? instanceId],
    `${host === undefined ? 'the coordinator instance' : `its instance ${instanceId}`} ${detail}`,
  );

/** What GetCommandInvocation's StatusDetails says when the command never reached the agent. */
const UNDELIVERED = new Set(['Undeliverable', 'DeliveryTimedOut', 'Delivery Timed Out']);

function mapSendError(settings: RunCommandSettings, error: unknown): never {
  const name = errorName(error);
  if (name === 'ThrottlingException') throw new SsmThrottled('SendCommand');
  if (name === 'InvalidInstanceId')
    throw unreachable(
      settings,
      'is not managed by SSM or its agent is offline; check the SSM agent',
    );
  throw error;
}

/**
 * Runs one script on the coordinator with AWS-RunShellScript and returns its decoded stdout.
 * Scripts print gzip+base64 (see coordinatorCommand); `what` names the command in errors.
 */
export async function runOnCoordinator(
  settings: RunCommandSettings,
  what: string,
  commandText: string,
): Promise<string> {
  return decodeOutput(what, await runCommand(settings, what, commandText));
}

/** Runs one command text with AWS-RunShellScript; its whole stdout, as it printed it. */
export async function runCommand(
  settings: RunCommandSettings,
  what: string,
  commandText: string,
): Promise<string> {
  const { ssm, instanceId, output } = settings;
  let commandId: string | undefined;
  try {
    const sent = await ssm.send(
      new SendCommandCommand({
        InstanceIds: [instanceId],
        DocumentName: 'AWS-RunShellScript',
        Comment: `recoverseg: ${what}`.slice(0, 100),
        Parameters: {
          commands: [commandText],
          executionTimeout: [String(Math.ceil(settings.timeoutMs / 1000))],
        },
        ...(output
          ? { OutputS3BucketName: output.bucket, OutputS3KeyPrefix: RUN_COMMAND_OUTPUT_PREFIX }
          : {}),
      }),
    );
    commandId = sent.Command?.CommandId;
  } catch (error) {
    mapSendError(settings, error);
  }
  if (!commandId)
    throw new SsmCommandFailed(
      undefined,
      instanceId,
      'NotSent',
      undefined,
      'no CommandId returned',
    );

  // A stopped instance takes SendCommand and never picks the command up: Pending to the end.
  let delivered = false;
  for (let waited = 0; waited < settings.timeoutMs;) {
    await settings.sleep(settings.pollIntervalMs);
    waited += settings.pollIntervalMs;
    let invocation;
    try {
      invocation = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
    } catch (error) {
      // The invocation is registered a moment after SendCommand returns.
      if (errorName(error) === 'InvocationDoesNotExist') continue;
      if (errorName(error) === 'ThrottlingException')
        throw new SsmThrottled('GetCommandInvocation');
      throw error;
    }
    if (UNDELIVERED.has(invocation.StatusDetails ?? ''))
      throw unreachable(
        settings,
        `never received SSM command ${commandId} (${invocation.StatusDetails}): the instance is stopped or its SSM agent is offline`,
      );
    if (invocation.Status !== 'Pending' && invocation.Status !== 'Delayed') delivered = true;
    switch (invocation.Status) {
      case 'Success':
        return wholeStdout(settings, what, commandId, invocation.StandardOutputContent);
      case 'TimedOut':
        throw new SsmCommandTimedOut(commandId, instanceId, waited);
      case 'Failed':
      case 'Cancelled':
      case 'Cancelling':
        throw new SsmCommandFailed(
          commandId,
          instanceId,
          invocation.Status,
          invocation.ResponseCode === -1 ? undefined : invocation.ResponseCode,
          invocation.StandardErrorContent ?? '',
        );
      default:
        continue;
    }
  }
  if (!delivered)
    throw unreachable(
      settings,
      `did not pick up SSM command ${commandId} within ${settings.timeoutMs} ms: the instance is stopped or its SSM agent is offline`,
    );
  throw new SsmCommandTimedOut(commandId, instanceId, settings.timeoutMs);
}

/** The inline copy when it is whole, else the one in S3. */
async function wholeStdout(
  settings: RunCommandSettings,
  what: string,
  commandId: string,
  inline = '',
): Promise<string> {
  if (inline.length < SSM_OUTPUT_LIMIT) return inline;
  if (!settings.output) throw new SsmOutputTruncated(commandId, what);
  return readStdoutObject(settings.output, commandId, settings.instanceId);
}

/** The payload is the last line: anything a login profile printed before it is ignored. */
export function decodeOutput(what: string, stdout: string): string {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  const payload = lines.at(-1)?.trim() ?? '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(payload))
    throw new MalformedOutput(what, lines.length, payload, 'expected gzip+base64 output');
  try {
    return gunzipSync(Buffer.from(payload, 'base64'), {
      maxOutputLength: MAX_DECODED_BYTES,
    }).toString('utf8');
  } catch (error) {
    const tooLong = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new MalformedOutput(
      what,
      lines.length,
      payload.slice(0, 80),
      tooLong
        ? `output decompresses to over ${MAX_DECODED_BYTES} bytes`
        : 'output is not gzip data',
    );
  }
}
