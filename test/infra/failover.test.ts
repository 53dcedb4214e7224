import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { FunctionName } from '#infra/stack.ts';
import { deploymentSettings } from '#infra/settings.ts';
import { RunCommandOutput } from '#infra/run-command-output.ts';
import {
  BACKENDS,
  FUNCTION_NAMES,
  instanceArn,
  statementsOf,
  synthesizedApp,
} from '#test/infra/synth.ts';

const simulated = synthesizedApp('simulated');
const ssm = synthesizedApp('ssm');
const FAILOVER_ACTIONS = [
  'ec2:StopInstances',
  'ec2:DescribeInstances',
  'route53:ChangeResourceRecordSets',
];

/** The statements of a function's role that grant any of `actions`. */
const granting = (synthd: typeof ssm, name: FunctionName, actions: string[]) =>
  statementsOf(synthd, synthd.stack.lambdas[name].role).filter((s) =>
    s.actions.some((a) => actions.includes(a) || a === '*' || a.endsWith(':*')),
  );

const variablesOf = (name: FunctionName) =>
  ssm.template.toJSON().Resources[ssm.id(ssm.stack.lambdas[name].fn)].Properties.Environment
    .Variables as Record<string, unknown>;

describe('the failover in the stack', () => {
  it('only FenceCoordinator may stop an instance: force-stop the two coordinators, read instance states', () => {
    for (const name of FUNCTION_NAMES) {
      const ec2 = granting(ssm, name, ['ec2:StopInstances', 'ec2:DescribeInstances']);
      if (name !== 'FenceCoordinator') {
        expect(ec2, name).toEqual([]);
        continue;
      }
      expect(ec2).toEqual([
        {
          actions: ['ec2:StopInstances'],
          resources: [instanceArn('i-0123456789abcdef0'), instanceArn('i-0fedcba9876543210')],
        },
        // DescribeInstances has no resource-level permissions (nag.ts justifies the *).
        { actions: ['ec2:DescribeInstances'], resources: ['*'] },
      ]);
    }
  });

  it('only MoveClients may change a record: UPSERT the coordinator record, A or CNAME, in its zone', () => {
    for (const name of FUNCTION_NAMES) {
      const route53 = granting(ssm, name, ['route53:ChangeResourceRecordSets']);
      if (name !== 'MoveClients') {
        expect(route53, name).toEqual([]);
        continue;
      }
      expect(route53).toEqual([
        {
          actions: ['route53:ChangeResourceRecordSets'],
          resources: [
            {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':route53:::hostedzone/Z0123456789ABCDEFGHIJ'],
              ],
            },
          ],
          conditions: {
            'ForAllValues:StringEquals': {
              'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['gp.example.com'],
              'route53:ChangeResourceRecordSetsRecordTypes': ['A', 'CNAME'],
              'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
            },
          },
        },
      ]);
    }
  });

  it('a simulated cluster grants no failover action to anyone', () => {
    for (const name of FUNCTION_NAMES)
      expect(granting(simulated, name, FAILOVER_ACTIONS), name).toEqual([]);
  });

  it('tells every function the hosts of both coordinators, and MoveClients alone the record', () => {
    for (const name of FUNCTION_NAMES) {
      const variables = variablesOf(name);
      expect(JSON.parse(variables.CLUSTER_HOST_INSTANCES as string), name).toEqual({
        mdw: 'i-0123456789abcdef0',
        smdw: 'i-0fedcba9876543210',
      });
      expect(variables.COORDINATOR_RECORD, name).toBe(
        name === 'MoveClients' ? 'Z0123456789ABCDEFGHIJ/gp.example.com/30' : undefined,
      );
    }
  });

  it("attaches the output bucket's agent policy to the standby's role too, once when it is the coordinator's", () => {
    const rolesOf = (props: { coordinatorRoleName?: string; standbyRoleName?: string }) => {
      const stack = new Stack(new App());
      new RunCommandOutput(stack, 'RunCommandOutput', props);
      const [policy] = Object.values(
        Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy'),
      );
      return policy?.Properties.Roles;
    };
    expect(rolesOf({ coordinatorRoleName: 'gp-mdw', standbyRoleName: 'gp-smdw' })).toEqual([
      'gp-mdw',
      'gp-smdw',
    ]);
    expect(rolesOf({ coordinatorRoleName: 'gp', standbyRoleName: 'gp' })).toEqual(['gp']);
    expect(rolesOf({ standbyRoleName: 'gp-smdw' })).toEqual(['gp-smdw']);
    expect(rolesOf({})).toBeUndefined();
  });
});

describe('the failover settings', () => {
  const settings = (context: Record<string, unknown>) =>
    deploymentSettings(new App({ context: { ...BACKENDS.ssm, ...context } }).node);
  const refused = (context: Record<string, unknown>) => () => settings(context);

  it('reads the standby, both hostnames and the record, normalized as IAM compares it', () => {
    expect(
      settings({
        'recoverseg:standbyRoleName': 'gp-standby',
        'recoverseg:coordinatorRecord': 'Z0123456789ABCDEFGHIJ/GP.Example.COM.',
      }),
    ).toMatchObject({
      standby: {
        instanceId: 'i-0fedcba9876543210',
        coordinatorHost: 'mdw',
        standbyHost: 'smdw',
        roleName: 'gp-standby',
      },
      coordinatorRecord: {
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        name: 'gp.example.com',
        ttl: 60,
      },
    });
  });

  it('needs the standby instance and both hostnames together, on the SSM backend only', () => {
    expect(refused({ 'recoverseg:standbyHost': undefined })).toThrow(
      /needs recoverseg:standbyInstanceId, recoverseg:coordinatorHost and recoverseg:standbyHost together; missing recoverseg:standbyHost/,
    );
    expect(
      refused({ 'recoverseg:standbyInstanceId': '', 'recoverseg:coordinatorHost': undefined }),
    ).toThrow(/missing recoverseg:standbyInstanceId and recoverseg:coordinatorHost/);
    expect(() =>
      deploymentSettings(
        new App({
          context: { ...BACKENDS.simulated, 'recoverseg:standbyInstanceId': 'i-0fedcba9876543210' },
        }).node,
      ),
    ).toThrow(
      /recoverseg:standbyInstanceId describes a real standby.*needs recoverseg:clusterBackend=ssm/,
    );
    const noStandby = {
      'recoverseg:standbyInstanceId': undefined,
      'recoverseg:coordinatorHost': undefined,
      'recoverseg:standbyHost': undefined,
    };
    expect(refused({ ...noStandby, 'recoverseg:standbyRoleName': 'gp' })).toThrow(
      /recoverseg:standbyRoleName .* give recoverseg:standbyInstanceId too/,
    );
    expect(refused(noStandby)).toThrow(
      /recoverseg:coordinatorRecord is moved by a coordinator failover: give the standby too/,
    );
    expect(
      settings({ ...noStandby, 'recoverseg:coordinatorRecord': undefined }),
    ).not.toHaveProperty('standby');
  });

  it('refuses an id that is not an instance id, or the coordinator instance itself', () => {
    for (const bad of [
      'i-XYZ',
      'arn:aws:ec2:eu-west-1:123456789012:instance/i-0fedcba9876543210',
      'i-0fedcba9876543210 ',
      'i-*',
      42,
    ])
      expect(refused({ 'recoverseg:standbyInstanceId': bad }), String(bad)).toThrow(
        /recoverseg:standbyInstanceId must (be an EC2 instance id|be a string)/,
      );
    expect(refused({ 'recoverseg:standbyInstanceId': 'i-0123456789abcdef0' })).toThrow(
      /is the coordinator's instance i-0123456789abcdef0: .* give the standby its own instance/,
    );
  });

  it('refuses a hostname the catalog cannot hold, and one host for both', () => {
    for (const bad of ['mdw; reboot', '-mdw', '../smdw', 'smdw\n', 'a'.repeat(254), '__proto__'])
      expect(refused({ 'recoverseg:standbyHost': bad }), bad).toThrow(
        /recoverseg:standbyHost must be the host's name in gp_segment_configuration/,
      );
    expect(refused({ 'recoverseg:coordinatorHost': 'mdw$(id)' })).toThrow(
      /recoverseg:coordinatorHost must be the host's name/,
    );
    expect(refused({ 'recoverseg:standbyHost': 'mdw' })).toThrow(
      /recoverseg:coordinatorHost and recoverseg:standbyHost are both mdw/,
    );
  });

  it('refuses a record that is not ZONE/name[/TTL], naming what is wrong', () => {
    const record = (value: unknown) => refused({ 'recoverseg:coordinatorRecord': value });
    expect(record('/hostedzone/Z0123456789ABCDEFGHIJ/gp.example.com')).toThrow(
      /recoverseg:coordinatorRecord must be HOSTED_ZONE_ID\/record.name\[\/TTL\]/,
    );
    expect(record('z0123/gp.example.com')).toThrow(/"z0123" is not a hosted zone id/);
    for (const name of [
      '*.example.com',
      'gp',
      'gp..example.com',
      'gp.example.123',
      'gp example.com',
    ])
      expect(record(`Z0123/${name}`), name).toThrow(/is not a record name/);
    for (const ttl of ['0', '86401', '1e3', '-5', ''])
      expect(record(`Z0123/gp.example.com/${ttl}`), ttl).toThrow(/the TTL must be whole seconds/);
    expect(record(`Z0123/${'a'.repeat(400)}.com`)).toThrow(/must be HOSTED_ZONE_ID/);
    expect(record({ hostedZoneId: 'Z0123' })).toThrow(
      /recoverseg:coordinatorRecord must be a string/,
    );
  });
});
