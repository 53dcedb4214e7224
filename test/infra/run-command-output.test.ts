import { describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import { RecoverSegStack, type FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';
import { BACKENDS, synthesizedApp } from '#test/infra/synth.ts';

const ssm = synthesizedApp('ssm');
const output = ssm.stack.runCommandOutput!;
const bucketId = ssm.id(output.bucket);
const keyId = ssm.id(output.key);
const FUNCTION_NAMES = [
  ...Object.keys(WORKFLOW_TASKS),
  ...Object.keys(SERVICE_FUNCTIONS),
] as FunctionName[];

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
type Resources = ReturnType<Template['findResources']>;
const statementsOf = (policies: Resources): Statement[] =>
  Object.values(policies).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties
        .PolicyDocument.Statement,
  );

/** The inline policy statements of one function's role. */
function functionStatements(name: FunctionName): Statement[] {
  const roleId = ssm.id(ssm.stack.lambdas[name].role);
  return statementsOf(
    ssm.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
    }),
  );
}

const onBucket = (statements: Statement[]) =>
  statements.filter((s) => JSON.stringify(s.Resource).includes(bucketId));
const prefixObjects = {
  'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/run-command/*']],
};
const sendsCommands = (name: FunctionName) =>
  functionStatements(name).some((s) => [s.Action].flat().includes('ssm:SendCommand'));

describe('the Run Command output bucket', () => {
  it('exists only with the SSM backend', () => {
    expect(synthesizedApp('simulated').stack.runCommandOutput).toBeUndefined();
    synthesizedApp('simulated').template.resourceCountIs('AWS::S3::Bucket', 0);
    ssm.template.resourceCountIs('AWS::S3::Bucket', 1);
  });

  it('is encrypted with its own rotated key, private, owner-enforced, and forgets each object after a day', () => {
    ssm.template.hasResourceProperties('AWS::KMS::Key', {
      Description: 'recoverseg: encrypts the Run Command output bucket',
      EnableKeyRotation: true,
    });
    ssm.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
            },
          },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'expire-after-a-day',
            Status: 'Enabled',
            ExpirationInDays: 1,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      },
    });
  });

  it('refuses requests without TLS', () => {
    ssm.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('is read, under the prefix only and never written, by exactly the functions that send Run Commands', () => {
    const senders = FUNCTION_NAMES.filter(sendsCommands);
    expect(senders.length).toBeGreaterThan(2);
    for (const name of FUNCTION_NAMES) {
      const statements = onBucket(functionStatements(name));
      const environment = ssm.template.findResources('AWS::Lambda::Function', {
        Properties: {
          Role: { 'Fn::GetAtt': [ssm.id(ssm.stack.lambdas[name].role), 'Arn'] },
          Environment: { Variables: { RUN_COMMAND_OUTPUT_BUCKET: { Ref: bucketId } } },
        },
      });
      if (!senders.includes(name)) {
        expect(statements, name).toEqual([]);
        expect(Object.keys(environment), name).toEqual([]);
        continue;
      }
      expect(Object.keys(environment), name).toHaveLength(1);
      expect(statements, name).toEqual([
        { Effect: 'Allow', Action: 's3:GetObject', Resource: prefixObjects },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] } },
      ]);
      expect(functionStatements(name)).toContainEqual({
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
    }
  });

  it("gives the coordinator's role a policy to write under the prefix and encrypt with the key, attached by the deployer", () => {
    const policies = ssm.template.findResources('AWS::IAM::ManagedPolicy');
    expect(Object.keys(policies)).toEqual([
      ssm.stack.getLogicalId(output.coordinatorPolicy.node.defaultChild as CfnElement),
    ]);
    expect(Object.values(policies)[0]!.Properties.Roles).toBeUndefined();
    expect(statementsOf(policies)).toEqual([
      { Effect: 'Allow', Action: ['s3:PutObject', 's3:PutObjectAcl'], Resource: prefixObjects },
      {
        Effect: 'Allow',
        Action: 's3:GetEncryptionConfiguration',
        Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
      },
    ]);
    expect(Object.keys(ssm.template.findOutputs('*'))).toEqual(
      expect.arrayContaining(['RunCommandOutputBucket', 'CoordinatorPolicyArn']),
    );
  });

  it('attaches that policy to the role recoverseg:coordinatorRoleName names, and refuses an ARN there', () => {
    const build = (roleName: string) =>
      new RecoverSegStack(
        new App({
          context: {
            ...BACKENDS.ssm,
            'recoverseg:coordinatorRoleName': roleName,
            'aws:cdk:bundling-stacks': [],
          },
        }),
        'RecoverSeg',
      );
    Template.fromStack(build('gp-coordinator')).hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: ['gp-coordinator'],
    });
    expect(() => build('arn:aws:iam::123456789012:role/gp-coordinator')).toThrow(
      /recoverseg:coordinatorRoleName must be an IAM role name \(not its ARN\)/,
    );
  });
});
