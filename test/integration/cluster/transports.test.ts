import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlanItem } from '#domain/events.ts';
import { coordinatorScript, readConfigurationScript } from '#cluster/greenplum/commands.ts';
import { splitSections } from '#cluster/greenplum/framing.ts';
import { parseGpVersion } from '#cluster/greenplum/versions.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { GprecoversegLocked, StaleGprecoversegLock } from '#cluster/greenplum/errors.ts';
import { NotSupportedByVersion, ReplayLagOverLimit } from '#cluster/greenplum/version-errors.ts';
import { CoordinatorScriptFailed, NotAdminUser } from '#cluster/transport/errors.ts';
import { LocalTransport } from '#cluster/transport/local.ts';
import { SshTransport } from '#cluster/transport/ssh.ts';
import { SsmTransport } from '#cluster/transport/ssm.ts';
import { stdoutKey } from '#cluster/ssm/output.ts';
import { SSM_OUTPUT_LIMIT } from '#cluster/ssm/run-command.ts';
import { catalogLines, groupMirroredCluster } from '#test/fixtures/clusters.ts';
import type { CoordinatorTransport } from '#cluster/transport/transport.ts';
import {
  adapterRuns,
  readCapture,
  readCaptureFile,
  sectionText,
} from '#test/unit/cluster/greenplum/captures.ts';
import { CoordinatorStub, type RunResult } from '#test/unit/cluster/greenplum/coordinator-stub.ts';
import { INSTANCE, mockSsmAndS3, objectBody, OUTPUT_BUCKET } from '#test/unit/cluster/ssm/mocks.ts';

/**
 * The same adapter over each transport, against the stub coordinator: the generated scripts run
 * in bash (reached through sh over SSM) and the stubbed tools answer with what real Greenplum
 * 6.24.3 printed.
 */
const { ssm: ssmMock, s3: s3Mock } = mockSsmAndS3();

/**
 * SSM as the agent runs a command: the text in `sh -c` on the coordinator, the first 24,000
 * characters of stdout inline, the whole of it in the output bucket under stdoutKey.
 */
function ssmRunsOn(stub: CoordinatorStub): SsmTransport {
  const runs = new Map<string, Promise<RunResult>>();
  ssmMock.on(SendCommandCommand).callsFake(async (input: SendCommandCommandInput) => {
    const commandId = `cmd-${runs.size + 1}`;
    runs.set(commandId, stub.run(input.Parameters!.commands![0]!));
    return { Command: { CommandId: commandId } };
  });
  ssmMock
    .on(GetCommandInvocationCommand)
    .callsFake(async ({ CommandId }: { CommandId: string }) => {
      const result = await runs.get(CommandId)!;
      return result.code === 0
        ? {
            Status: 'Success',
            ResponseCode: 0,
            StandardOutputContent: result.stdout.slice(0, SSM_OUTPUT_LIMIT),
          }
        : { Status: 'Failed', ResponseCode: result.code, StandardErrorContent: result.stderr };
    });
  s3Mock
    .on(GetObjectCommand)
    .callsFake(async ({ Bucket, Key }: { Bucket: string; Key: string }) => {
      const commandId = [...runs.keys()].find((id) => stdoutKey(id, INSTANCE) === Key);
      if (Bucket !== OUTPUT_BUCKET || !commandId) throw new Error(`no object ${Bucket}/${Key}`);
      const { stdout } = await runs.get(commandId)!;
      return { Body: objectBody(Readable.from([Buffer.from(stdout)])) };
    });
  return new SsmTransport({
    ssm: new SSMClient({ region: 'eu-west-1' }),
    instanceId: INSTANCE,
    pollIntervalMs: 1,
    sleep: async () => {},
    output: {
      s3: async () => ({
        sdk: await import('@aws-sdk/client-s3'),
        client: new S3Client({ region: 'eu-west-1' }),
      }),
      bucket: OUTPUT_BUCKET,
    },
    staging: { directory: join(stub.root, 'stage') },
  });
}

const TRANSPORTS: [string, (stub: CoordinatorStub) => CoordinatorTransport][] = [
  ['ssm', ssmRunsOn],
  ['local', (stub) => new LocalTransport({ program: join(stub.bin, 'local-bash') })],
  ['ssh', (stub) => new SshTransport({ coordinator: 'mdw', program: join(stub.bin, 'ssh') })],
];

type Runs = Awaited<ReturnType<typeof adapterRuns>>;
let runs: Runs;
let stub: CoordinatorStub;

beforeEach(async () => {
  runs ??= await adapterRuns();
  stub = await CoordinatorStub.create();
});
afterEach(() => stub.dispose());

/** adapter-runs #87 with only dbid 7 down (as in capture 92b), for the -p relocation. */
const answerDbid7Down = () =>
  stub.answerSql(
    'segments',
    sectionText(runs[87]!.decoded, 'segments')
      .replace('7|1|m|m|s|u|7001|sdw2', '7|1|m|m|n|d|7001|sdw2')
      .replace('6|0|m|m|n|d|7000|sdw2', '6|0|m|m|s|u|7000|sdw2')
      .replace('2|0|p|p|n|u|', '2|0|p|p|s|u|'),
  );

/** dbid 7 rebuilt on sdw3 with its data directory; gprecoverseg -p picks the port. */
const RELOCATE_DBID_7: PlanItem[] = [
  {
    dbid: 7,
    content: 1,
    sourceDbid: 3,
    type: 'full',
    target: {
      hostname: 'sdw3',
      address: 'sdw3',
      port: 7001,
      datadir: '/data1/gpdb/sdw2/mirror/gpseg1',
    },
  },
];

/** The largest cluster recoverseg drives: 1,000 hosts of 8 primaries and 8 mirrors. */
const LARGEST = groupMirroredCluster(1000, 8);
const LARGEST_PLAN: PlanItem[] = LARGEST.filter((row) => row.role === 'm').map((row) => ({
  dbid: row.dbid,
  content: row.content,
  sourceDbid: row.content + 2,
  type: 'full',
}));

describe.each(TRANSPORTS)('GreenplumClusterOperations over %s', (name, transportFor) => {
  const operations = () =>
    new GreenplumClusterOperations({ transport: transportFor(stub), settings: stub.settings });

  it('learns the release once and runs as the admin user', async () => {
    // adapter-runs #0: the healthy catalog.
    await stub.answerSql('segments', sectionText(runs[0]!.decoded, 'segments'));
    await stub.answerSql('probe', 't\n');
    const ops = operations();
    await ops.readConfiguration();
    await ops.requestFtsProbe();
    expect((await ops.clusterVersion()).display).toBe('6.24.3');
    expect(await stub.calls('postgres')).toEqual(['--gp-version']);
    if (name === 'ssm') expect(await stub.calls('sudo')).toContain(`-u ${stub.adminUser} -H`);
    if (name === 'ssh')
      expect(await stub.calls('ssh')).toContain(
        `-o BatchMode=yes -o ConnectTimeout=10 -l ${stub.adminUser} -- mdw bash -s`,
      );
  });

  it('finds the double fault of content 3: dbid 9 shown p,u,n does not answer (adapter-runs #105)', async () => {
    await stub.answerSql('segments', sectionText(runs[105]!.decoded, 'segments'));
    await stub.deadPorts([7003]);
    const observation = await operations().readConfiguration();
    expect(observation.unresponsive).toEqual([9]);
    expect(observation.doubleFaults).toEqual([{ content: 3, primaryDbid: 9, mirrorDbid: 5 }]);
    // Every acting primary was asked, at its catalog address and port.
    expect((await stub.calls('pg_isready')).sort()).toEqual([
      'sdw1:6000',
      'sdw1:6001',
      'sdw1:7003',
      'sdw2:6002',
    ]);
  });

  it('recovers sdw2 in place with -i and polls the real output to the end (32_gprecoverseg_a.txt)', async () => {
    await stub.answerSql('segments', sectionText(runs[24]!.decoded, 'segments'));
    await stub.gprecoversegRun(1, await readCapture('32_gprecoverseg_a.txt'));
    const plan: PlanItem[] = [
      { dbid: 6, content: 0, sourceDbid: 2, type: 'incremental' },
      { dbid: 7, content: 1, sourceDbid: 3, type: 'incremental' },
      { dbid: 4, content: 2, sourceDbid: 8, type: 'incremental' },
      { dbid: 5, content: 3, sourceDbid: 9, type: 'incremental' },
    ];
    const ops = operations();
    const handle = await ops.startRecovery(plan, 'incident-1/Recover');
    await stub.waitForExit(handle.operationId);
    expect(await ops.startRecovery(plan, 'incident-1/Recover')).toEqual(handle);
    expect(await stub.calls('gprecoverseg')).toHaveLength(1);
    expect((await stub.calls('gprecoverseg'))[0]).toMatch(/^-a -i \S+\.incremental\.conf$/);
    expect(await ops.pollOperation(handle)).toMatchObject({ done: true, failures: [] });
  });

  it.each([
    ['lives: waits for it (GprecoversegLocked)', true],
    ['is dead: a human removes the directory (StaleGprecoversegLock)', false],
  ])(
    'starts nothing while gprecoverseg.lock is held, and when its holder %s (63)',
    async (_, alive) => {
      await stub.answerSql('segments', sectionText(runs[24]!.decoded, 'segments'));
      // As gprecoverseg leaves it: a directory holding a file PID, no newline.
      const lock = join(stub.coordinatorDataDirectory, 'gprecoverseg.lock');
      const holder = spawn('sleep', ['30']);
      const pid = holder.pid!;
      if (!alive) {
        holder.kill('SIGKILL');
        await once(holder, 'exit');
      }
      await mkdir(lock);
      await writeFile(join(lock, 'PID'), String(pid));
      try {
        const start = operations().startRecovery(
          [{ dbid: 6, content: 0, sourceDbid: 2, type: 'incremental' }],
          'incident-1/Recover',
        );
        await expect(start).rejects.toBeInstanceOf(
          alive ? GprecoversegLocked : StaleGprecoversegLock,
        );
        await expect(start).rejects.toMatchObject({ holderPid: pid, lockDirectory: lock });
        await expect(start).rejects.toThrow(
          alive ? /waits while that process lives/ : `remove the directory ${lock}`,
        );
        expect(await stub.calls('gprecoverseg')).toEqual([]);
      } finally {
        holder.kill('SIGKILL');
      }
    },
  );

  it('names the gprecoverseg holding the lock, for an operator who cancels (never kills it)', async () => {
    expect(await operations().runningGprecoverseg()).toBeUndefined();
    const lock = join(stub.coordinatorDataDirectory, 'gprecoverseg.lock');
    // A process whose command line is gprecoverseg's rebalance, as ps shows it.
    const holder = spawn('bash', ['-c', 'exec -a "gprecoverseg -a -r" sleep 30']);
    try {
      // Until bash has exec'ed, ps would show bash's own command line.
      while (!(await readFile(`/proc/${holder.pid}/cmdline`, 'utf8')).startsWith('gprecoverseg'))
        await new Promise((resolve) => setTimeout(resolve, 10));
      await mkdir(lock);
      await writeFile(join(lock, 'PID'), String(holder.pid));
      expect(await operations().runningGprecoverseg()).toEqual({
        kind: 'rebalance',
        pid: holder.pid,
      });
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('starts the full recovery of 8,000 mirrors of a 16,000-segment cluster: its catalog and -i file whole', async () => {
    await stub.answerSql('segments', catalogLines(LARGEST).join('\n'));
    await stub.gprecoversegRun(1, await readCapture('32_gprecoverseg_a.txt'));
    const handle = await operations().startRecovery(LARGEST_PLAN, 'incident-9/Recover');
    await stub.waitForExit(handle.operationId);
    expect(await stub.calls('gprecoverseg')).toEqual([
      expect.stringMatching(/^-a -F -i \S+\.full\.conf$/),
    ]);
    const mirrors = new Map(LARGEST.map((row) => [row.dbid, row]));
    expect((await stub.stateFile(handle.operationId, 'full.conf')).split('\n')).toEqual([
      ...LARGEST_PLAN.map(({ dbid }) => {
        const row = mirrors.get(dbid)!;
        return `${row.address}|${row.port}|${row.datadir}`;
      }),
      '',
    ]);
    expect((await stub.stateFile(handle.operationId, 'plan')).split('\n')).toHaveLength(8_001);
    if (name === 'ssm') {
      // The catalog came from the output bucket, the start script in pieces.
      expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
      const pieces = ssmMock
        .commandCalls(SendCommandCommand)
        .filter((call) => call.args[0].input.Parameters!.commands![0]!.startsWith('install -d'));
      expect(pieces).toHaveLength(3);
    }
  });

  it('reports gpstate -e and -m with their exit status checked, during the double fault (80d, 80e)', async () => {
    await stub.gpstateAnswer('-e', await readCapture('80d_double_fault_gpstate_e.txt'));
    await stub.gpstateAnswer('-m', await readCapture('80e_double_fault_gpstate_m.txt'));
    const ops = operations();
    expect(await ops.gpstateErrors()).toMatchObject({
      allNormal: false,
      databaseProbablyUnavailable: true,
    });
    expect((await ops.gpstateMirrors()).mirroring).toBe('Group');
    expect(await stub.calls('gpstate')).toEqual(['-e', '-m']);
  });

  it('relocates sdw2 to sdw3 on 6.x with -p after its -o preview, taking the ports gprecoverseg chose (93, 93b, 94)', async () => {
    // adapter-runs #24 is sdw2 down; capture 92b has only dbid 7 down. Use the real file
    // gprecoverseg -o -p wrote for dbid 7 and plan only the down segment it names.
    await answerDbid7Down();
    await stub.answerSql('probe', 't\n');
    await stub.gprecoversegRun(
      1,
      await readCapture('93_p_gprecoverseg_o_p_sdw3_preview.txt'),
      await readCaptureFile('recover_p_sdw3.conf'),
    );
    await stub.gprecoversegRun(2, await readCapture('94_p_gprecoverseg_a_p_sdw3.txt'));
    const handle = await operations().startRecovery(RELOCATE_DBID_7, 'incident-2/Recover');
    expect(await stub.waitForExit(handle.operationId)).toBe('1');
    const calls = await stub.calls('gprecoverseg');
    expect(calls[0]).toMatch(/^-o \S+\.relocate\.preview -p sdw3$/);
    expect(calls[1]).toBe('-a -F -p sdw3');
    expect(await stub.stateFile(handle.operationId, 'plan')).toBe('7|1|full|sdw3|6000|relocate\n');
  });

  it('refuses the -p run when the preview lists a segment the plan does not hold', async () => {
    await answerDbid7Down();
    await stub.answerSql('probe', 't\n');
    const preview = `${await readCaptureFile('recover_p_sdw3.conf')}sdw1|7002|/data1/gpdb/sdw1/mirror/gpseg2 sdw3|6001|/data1/gpdb/sdw1/mirror/gpseg2\n`;
    await stub.gprecoversegRun(
      1,
      await readCapture('93_p_gprecoverseg_o_p_sdw3_preview.txt'),
      preview,
    );
    const handle = await operations().startRecovery(RELOCATE_DBID_7, 'incident-3/Recover');
    expect(await stub.waitForExit(handle.operationId)).toBe('3');
    expect(await stub.calls('gprecoverseg')).toHaveLength(1);
    expect(await stub.stateFile(handle.operationId, 'log')).toContain(
      '@@recoverseg:refused relocate gprecoverseg would recover sdw1|7002|/data1/gpdb/sdw1/mirror/gpseg2 sdw2|7001|/data1/gpdb/sdw2/mirror/gpseg1, not the planned sdw2|7001|/data1/gpdb/sdw2/mirror/gpseg1@@',
    );
  });

  it('refuses differential recovery on 6.24.3 before anything runs', async () => {
    await stub.answerSql('segments', sectionText(runs[24]!.decoded, 'segments'));
    await expect(
      operations().startRecovery(
        [{ dbid: 6, content: 0, sourceDbid: 2, type: 'differential' }],
        'k',
      ),
    ).rejects.toThrow(
      new NotSupportedByVersion('differential recovery', 'Greenplum 7 or Cloudberry', '6.24.3'),
    );
    expect(await stub.calls('gprecoverseg')).toEqual([]);
  });

  it('on 6.x rebalances without --replay-lag after checking the lag itself', async () => {
    await stub.answerSql('replay_lag', '8|0\n9|0\n');
    await stub.answerSql('plan', '2|0|incremental|sdw1|6000\n');
    await stub.gprecoversegRun(1, await readCapture('40_gprecoverseg_ar_rebalance.txt'));
    const handle = await operations().startRebalance({ replayLagGb: 10 }, 'incident-1/Rebalance');
    await stub.waitForExit(handle.operationId);
    expect(await stub.calls('gprecoverseg')).toEqual(['-a -r']);
    expect(
      (await stub.sqlCalls()).some((sql) =>
        sql.includes('pg_xlog_location_diff(r.flush_location, r.replay_location)'),
      ),
    ).toBe(true);
  });

  it('on 6.x refuses the whole rebalance when a mirror lags at or over the limit', async () => {
    await stub.answerSql('replay_lag', `8|0\n9|${10 * 1024 ** 3}\n`);
    const error = await operations()
      .startRebalance({ replayLagGb: 10 }, 'incident-1/Rebalance')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayLagOverLimit);
    expect(error).toMatchObject({ name: 'RebalanceReplayLagExceeded', dbid: 9 });
    expect((error as Error).message).toContain('6.24.3 has no --replay-lag');
    expect(await stub.calls('gprecoverseg')).toEqual([]);
  });

  it('knows no walsender when gp_stat_replication cannot reach an acting primary (80h)', async () => {
    await stub.answerSql('segments', sectionText(runs[105]!.decoded, 'segments'));
    const refused = await readCapture('80h_double_fault_gp_stat_replication.txt');
    await stub.failSql('replication', refused.body);
    const replication = await operations().readReplication();
    expect(replication.map((r) => [r.content, r.state])).toEqual([
      [0, undefined],
      [1, undefined],
      [2, undefined],
      [3, undefined],
    ]);
  });

  it('reports a failing psql with its error and the coordinator', async () => {
    await stub.failSql(
      'probe',
      'ERROR:  gp_request_fts_probe_scan() can only be run on coordinator',
    );
    const error = await operations()
      .requestFtsProbe()
      .catch((e: unknown) => e);
    expect((error as Error).message).toContain('can only be run on coordinator');
  });
});

describe('the read-configuration script', () => {
  it('prints, after the catalog, dbid|rc of pg_isready for every acting primary (102: 0 and 2)', async () => {
    await stub.answerSql('segments', sectionText(runs[105]!.decoded, 'segments'));
    await stub.deadPorts([7003]);
    const version = parseGpVersion('v', [
      { number: 1, text: (await readCapture('01a_postgres_gp_version.txt')).body.trim() },
    ]);
    const output = await new LocalTransport({ program: join(stub.bin, 'local-bash') }).run({
      what: 'read gp_segment_configuration',
      script: coordinatorScript(stub.settings, version, readConfigurationScript(), 'plain'),
      adminUser: stub.adminUser,
    });
    const sections = splitSections('read', output);
    expect(
      sections
        .get('segments')
        ?.map((line) => line.text)
        .join('\n'),
    ).toBe(sectionText(runs[105]!.decoded, 'segments').trimEnd());
    expect(sections.get('responds')?.map((line) => line.text)).toEqual([
      '2|0',
      '3|0',
      '4|0',
      '9|2',
    ]);
  });
});

describe('reading the cluster while a promoted mirror finishes its promotion (capture 103)', () => {
  it('reads pg_isready 64 as alive but not ready: not unresponsive, no double fault', async () => {
    await stub.answerSql('segments', sectionText(runs[105]!.decoded, 'segments'));
    await stub.deadPorts([]);
    await stub.mirrorReadyPorts([7003]);
    const ops = new GreenplumClusterOperations({
      transport: new LocalTransport({ program: join(stub.bin, 'local-bash') }),
      settings: stub.settings,
    });
    try {
      const observation = await ops.readConfiguration();
      expect(observation.unresponsive).toEqual([]);
      expect(observation.notReady).toEqual([{ dbid: 9, answer: 'mirror-ready' }]);
      expect(observation.doubleFaults).toEqual([]);
    } finally {
      await stub.mirrorReadyPorts([]);
    }
  });
});

describe('the admin user', () => {
  it('--transport local refuses to run as anyone else, before anything runs', async () => {
    const ops = new GreenplumClusterOperations({
      transport: new LocalTransport({ currentUser: () => 'alice' }),
      settings: { ...stub.settings, adminUser: 'gpadmin' },
    });
    await expect(ops.readConfiguration()).rejects.toThrow(NotAdminUser);
    await expect(ops.readConfiguration()).rejects.toThrow(/runs as alice, .* admin user gpadmin/);
  });

  it('a script started as another user stops before touching the cluster', async () => {
    const ops = new GreenplumClusterOperations({
      transport: new SshTransport({ coordinator: 'mdw', program: join(stub.bin, 'ssh') }),
      settings: { ...stub.settings, adminUser: 'gpadmin' },
    });
    const error = await ops.clusterVersion().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoordinatorScriptFailed);
    expect((error as Error).message).toContain('this script must run as gpadmin');
    expect(await stub.calls('postgres')).toEqual([]);
  });
});
