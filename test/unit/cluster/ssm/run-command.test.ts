import { gzipSync } from 'node:zlib';
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  HostUnreachable,
  MalformedOutput,
  SsmCommandFailed,
  SsmCommandTimedOut,
  SsmOutputTruncated,
  SsmThrottled,
} from '#cluster/greenplum/errors.ts';
import {
  decodeOutput,
  runOnCoordinator,
  type RunCommandSettings,
} from '#cluster/ssm/run-command.ts';

const ssmMock = mockClient(SSMClient);
// The worker's other files share the SDK: leave its clients unmocked.
afterAll(() => {
  ssmMock.restore();
});
const awsError = (name: string) => Object.assign(new Error(name), { name });
const encoded = (text: string) => `${gzipSync(Buffer.from(text)).toString('base64')}\n`;

let slept: number[];
const settings = (): RunCommandSettings => ({
  ssm: new SSMClient({ region: 'eu-west-1' }),
  instanceId: 'i-0123456789abcdef0',
  pollIntervalMs: 1000,
  timeoutMs: 5000,
  sleep: async (ms) => {
    slept.push(ms);
  },
});

const invocation = (
  patch: Partial<GetCommandInvocationCommandOutput>,
): GetCommandInvocationCommandOutput => ({
  $metadata: {},
  CommandId: 'cmd-1',
  InstanceId: 'i-0123456789abcdef0',
  ...patch,
});

beforeEach(() => {
  ssmMock.reset();
  slept = [];
  ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
});

describe('runOnCoordinator', () => {
  it('sends AWS-RunShellScript to the coordinator and returns the decoded output', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolvesOnce(invocation({ Status: 'InProgress' }))
      .resolves(
        invocation({
          Status: 'Success',
          ResponseCode: 0,
          StandardOutputContent: encoded('hello\n'),
        }),
      );
    await expect(
      runOnCoordinator(settings(), 'read gp_segment_configuration', 'echo hi'),
    ).resolves.toBe('hello\n');
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: ['i-0123456789abcdef0'],
      DocumentName: 'AWS-RunShellScript',
      Comment: 'recoverseg: read gp_segment_configuration',
      Parameters: { commands: ['echo hi'], executionTimeout: ['5'] },
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetCommandInvocationCommand, {
      CommandId: 'cmd-1',
      InstanceId: 'i-0123456789abcdef0',
    });
    expect(slept).toEqual([1000, 1000]);
  });

  it('keeps polling while the invocation is not registered yet', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejectsOnce(awsError('InvocationDoesNotExist'))
      .resolves(invocation({ Status: 'Success', StandardOutputContent: encoded('ok') }));
    await expect(runOnCoordinator(settings(), 'x', 'true')).resolves.toBe('ok');
  });

  it('maps throttling of either call to SsmThrottled', async () => {
    ssmMock.on(SendCommandCommand).rejects(awsError('ThrottlingException'));
    await expect(runOnCoordinator(settings(), 'x', 'true')).rejects.toThrow(SsmThrottled);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock.on(GetCommandInvocationCommand).rejects(awsError('ThrottlingException'));
    await expect(runOnCoordinator(settings(), 'x', 'true')).rejects.toMatchObject({
      name: 'SsmThrottled',
      operation: 'GetCommandInvocation',
    });
  });

  it('maps an instance SSM cannot reach to HostUnreachable', async () => {
    ssmMock.on(SendCommandCommand).rejects(awsError('InvalidInstanceId'));
    const error = await runOnCoordinator(settings(), 'x', 'true').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostUnreachable);
    expect((error as Error).message).toMatch(/^i-0123456789abcdef0 unreachable: .*SSM agent/);
  });

  it('passes other SDK errors through unchanged', async () => {
    ssmMock.on(SendCommandCommand).rejects(awsError('AccessDeniedException'));
    await expect(runOnCoordinator(settings(), 'x', 'true')).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('maps a failed script to SsmCommandFailed with its exit code and the end of stderr', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves(
      invocation({
        Status: 'Failed',
        ResponseCode: 1,
        StandardErrorContent:
          'psql: error: connection to server on socket "/tmp/.s.PGSQL.5432" failed\n',
      }),
    );
    const error = await runOnCoordinator(settings(), 'x', 'true').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsmCommandFailed);
    expect(error).toMatchObject({ status: 'Failed', exitCode: 1, commandId: 'cmd-1' });
    expect((error as Error).message).toContain('connection to server on socket');
  });

  it('maps a cancelled command to SsmCommandFailed', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves(invocation({ Status: 'Cancelled', ResponseCode: -1 }));
    await expect(runOnCoordinator(settings(), 'x', 'true')).rejects.toMatchObject({
      name: 'SsmCommandFailed',
      status: 'Cancelled',
      exitCode: undefined,
    });
  });

  it('maps SSM TimedOut and its own wait running out to SsmCommandTimedOut', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves(invocation({ Status: 'TimedOut' }));
    await expect(runOnCoordinator(settings(), 'x', 'true')).rejects.toThrow(SsmCommandTimedOut);
    ssmMock.on(GetCommandInvocationCommand).resolves(invocation({ Status: 'InProgress' }));
    slept = [];
    await expect(runOnCoordinator(settings(), 'x', 'true')).rejects.toMatchObject({
      name: 'SsmCommandTimedOut',
      waitedMs: 5000,
    });
    expect(slept).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  it.each([
    ['still Pending when the wait runs out', { Status: 'Pending' as const }, /did not pick up/],
    [
      'Undeliverable',
      { Status: 'Failed' as const, StatusDetails: 'Undeliverable' },
      /never received SSM command cmd-1 \(Undeliverable\)/,
    ],
  ])(
    'maps a command the instance never took (%s) to HostUnreachable, naming the host',
    async (_what, status, message) => {
      ssmMock.on(GetCommandInvocationCommand).resolves(invocation(status));
      const error = await runOnCoordinator({ ...settings(), host: 'smdw' }, 'x', 'true').catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HostUnreachable);
      expect(error).toMatchObject({ hosts: ['smdw'] });
      expect((error as Error).message).toMatch(
        /^smdw unreachable: its instance i-0123456789abcdef0 /,
      );
      expect((error as Error).message).toMatch(message);
    },
  );

  it('reports output cut off at the SSM limit as SsmOutputTruncated when there is no bucket', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves(invocation({ Status: 'Success', StandardOutputContent: 'A'.repeat(24_000) }));
    const error = await runOnCoordinator(settings(), 'read gp_segment_configuration', 'true').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SsmOutputTruncated);
    expect((error as Error).message).toMatch(/RUN_COMMAND_OUTPUT_BUCKET/);
    expect(ssmMock).not.toHaveReceivedCommandWith(SendCommandCommand, {
      OutputS3BucketName: expect.any(String) as string,
    });
  });

  it('refuses a send that returns no command id', async () => {
    ssmMock.on(SendCommandCommand).resolves({});
    await expect(runOnCoordinator(settings(), 'x', 'true')).rejects.toThrow(SsmCommandFailed);
  });
});

describe('decodeOutput', () => {
  it('takes the payload from the last line, ignoring anything a profile printed first', () => {
    expect(decodeOutput('x', `Welcome to segment land\n${encoded('rows\n')}`)).toBe('rows\n');
  });

  it('refuses output that is not gzip+base64', () => {
    expect(() => decodeOutput('x', 'psql: command not found\n')).toThrow(MalformedOutput);
    expect(() => decodeOutput('x', `${Buffer.from('plain').toString('base64')}\n`)).toThrow(
      /not gzip data/,
    );
  });

  it('refuses an answer that decompresses to more than any cluster prints (a gzip bomb)', () => {
    const bomb = gzipSync(Buffer.alloc(65 * 1024 * 1024)).toString('base64');
    expect(() => decodeOutput('x', bomb)).toThrow(/decompresses to over 67108864 bytes/);
  });
});
