import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { OUTPUT_BUCKET_ENV, RUN_COMMAND_OUTPUT_PREFIX } from '#cluster/ssm/output.ts';

export interface RunCommandOutputProps {
  /**
   * The coordinator instance's role, when the deployer names it: the stack attaches the policy
   * that lets its SSM Agent write the output. Otherwise the deployer attaches CoordinatorPolicyArn.
   */
  coordinatorRoleName?: string;
  /** The standby coordinator instance's role, likewise: commands run on its host too. */
  standbyRoleName?: string;
}

/**
 * Where SSM Agent writes the whole output of every Run Command recoverseg sends (the inline copy
 * stops at 24,000 characters; a 16,000-segment catalog is about 195,000). Outputs name hosts
 * and data directories and are read once: a bucket of their own, with its own key, private,
 * TLS only, each object gone after a day.
 */
export class RunCommandOutput extends Construct {
  readonly key: kms.Key;
  readonly bucket: s3.Bucket;
  /** What the coordinator instance's role needs: writing under the prefix, encrypting with the key. */
  readonly coordinatorPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: RunCommandOutputProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'recoverseg: encrypts the Run Command output bucket',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket, not one KMS call per object.
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [
        {
          id: 'expire-after-a-day',
          expiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Every object expires within a day; nothing here is a record.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Objects are Run Command outputs that expire after a day; who sent each command is in CloudTrail (ssm:SendCommand), and S3 data events can be enabled account-wide.',
    });

    const outputs = this.bucket.arnForObjects(`${RUN_COMMAND_OUTPUT_PREFIX}/*`);
    this.coordinatorPolicy = new iam.ManagedPolicy(this, 'CoordinatorPolicy', {
      description:
        "recoverseg: lets the coordinator's SSM Agent write Run Command output to the stack's bucket",
      statements: [
        // The agent uploads with a bucket-owner ACL, and reads the bucket's encryption first.
        new iam.PolicyStatement({
          actions: ['s3:PutObject', 's3:PutObjectAcl'],
          resources: [outputs],
        }),
        new iam.PolicyStatement({
          actions: ['s3:GetEncryptionConfiguration'],
          resources: [this.bucket.bucketArn],
        }),
        // An upload in parts decrypts the data key it generated for the first part.
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [this.key.keyArn],
        }),
      ],
      // One role for both instances is attached once.
      roles: Object.entries({
        CoordinatorRole: props.coordinatorRoleName,
        StandbyRole:
          props.standbyRoleName === props.coordinatorRoleName ? undefined : props.standbyRoleName,
      })
        .filter((entry): entry is [string, string] => entry[1] !== undefined)
        .map(([id, name]) => iam.Role.fromRoleName(this, id, name)),
    });
    this.acknowledgePrefix(
      this.coordinatorPolicy,
      'the SSM Agent on the coordinator writes one object per command under the prefix (keys name the command and the instance).',
    );

    const stack = Stack.of(this);
    new CfnOutput(stack, 'RunCommandOutputBucket', { value: this.bucket.bucketName });
    new CfnOutput(stack, 'CoordinatorPolicyArn', {
      value: this.coordinatorPolicy.managedPolicyArn,
      description:
        "Attach to the role of the coordinator's instance and of the standby's (unless recoverseg:coordinatorRoleName and recoverseg:standbyRoleName attached it)",
    });
  }

  /** A function that sends Run Commands reads their outputs: under the prefix only, never writes. */
  grantRead(fn: lambda.Function): void {
    fn.addEnvironment(OUTPUT_BUCKET_ENV, this.bucket.bucketName);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${RUN_COMMAND_OUTPUT_PREFIX}/*`)],
      }),
    );
    // S3 answers a missing key NoSuchKey only to a caller allowed to list (AccessDenied
    // otherwise), and a missing output must be named as such. The bucket holds nothing else.
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    this.key.grantDecrypt(fn);
    const policy = fn.role?.node.tryFindChild('DefaultPolicy');
    if (policy)
      this.acknowledgePrefix(
        policy,
        'each Run Command output is an object under the prefix whose key names the command, known only once it is sent.',
      );
  }

  private acknowledgePrefix(scope: Construct, why: string): void {
    const bucket = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/${RUN_COMMAND_OUTPUT_PREFIX}/*]`,
      reason: `Objects of the Run Command output bucket under ${RUN_COMMAND_OUTPUT_PREFIX}/ only: ${why}`,
    });
  }
}
