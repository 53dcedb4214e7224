import { Stack, Validations, type App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { RecoverSegStack } from '#infra/stack.ts';
import { WORKFLOW_TASKS, WORKFLOW_TASK_NAMES } from '#infra/tasks.ts';

/**
 * Actions that AWS authorizes only on `Resource: *` (no resource-level permissions), and why
 * each role has them. A wildcard statement with any other action fails the synth.
 */
const WILDCARD_ONLY_ACTIONS: Record<string, string> = {
  'xray:PutTraceSegments': 'X-Ray active tracing',
  'xray:PutTelemetryRecords': 'X-Ray active tracing',
  'xray:GetSamplingRules': 'X-Ray tracing of the state machine',
  'xray:GetSamplingTargets': 'X-Ray tracing of the state machine',
  'logs:CreateLogDelivery': 'Step Functions vended log delivery to its log group',
  'logs:GetLogDelivery': 'Step Functions vended log delivery to its log group',
  'logs:UpdateLogDelivery': 'Step Functions vended log delivery to its log group',
  'logs:DeleteLogDelivery': 'Step Functions vended log delivery to its log group',
  'logs:ListLogDeliveries': 'Step Functions vended log delivery to its log group',
  'logs:PutResourcePolicy': 'Step Functions vended log delivery to its log group',
  'logs:DescribeResourcePolicies': 'Step Functions vended log delivery to its log group',
  'logs:DescribeLogGroups': 'Step Functions vended log delivery to its log group',
  'dynamodb:ListStreams': 'finding the EventLog stream (reading it is scoped to the stream ARN)',
  'ec2:DescribeTags':
    'reading the recoverseg:cluster tag of the instance named in an EC2 state-change event',
  'ssm:GetCommandInvocation':
    "polling Run Command output (SendCommand itself is scoped to AWS-RunShellScript on the coordinator's and the standby's instances)",
  'ec2:DescribeInstances':
    "the fence reading whether the old coordinator's instance is stopped yet (StopInstances itself is scoped to the two coordinator instances)",
};

type Statement = { Action?: string | string[]; Resource?: unknown };

function wildcardActions(policy: iam.Policy): string[] {
  const document = Stack.of(policy).resolve(policy.document.toJSON()) as
    { Statement?: Statement[] } | undefined;
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
  return (document?.Statement ?? [])
    .filter((s) => list(s.Resource).includes('*'))
    .flatMap((s) => list(s.Action) as string[]);
}

/** Every `Resource: *` in an inline policy must be one of WILDCARD_ONLY_ACTIONS; say which and why. */
function acknowledgeWildcardOnlyActions(stack: Stack): void {
  for (const policy of stack.node
    .findAll()
    .filter((c): c is iam.Policy => c instanceof iam.Policy)) {
    const actions = wildcardActions(policy);
    if (actions.length === 0) continue;
    const unjustified = actions.filter((action) => !(action in WILDCARD_ONLY_ACTIONS));
    if (unjustified.length > 0)
      throw new Error(
        `${policy.node.path} allows ${unjustified.join(', ')} on Resource *: scope it to a resource, or justify it in infra/nag.ts`,
      );
    const byReason = Map.groupBy(actions, (action) => WILDCARD_ONLY_ACTIONS[action]!);
    acknowledge(
      policy,
      'AwsSolutions-IAM5[Resource::*]',
      `Resource * only for actions without resource-level permissions: ${[...byReason].map(([why, which]) => `${which.join(', ')} (${why})`).join('; ')}`,
    );
  }
}

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * cdk-nag's AWS Solutions pack runs on every synth (a validation plugin: an unacknowledged
 * finding fails the synth). Each acknowledgment below names what it covers and why.
 */
export function applyNagChecks(app: App, stack: RecoverSegStack): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  acknowledgeWildcardOnlyActions(stack);

  acknowledge(
    stack.tables.configuration,
    'AwsSolutions-DDB3',
    'Configuration is a projection: it is rebuilt by folding the EventLog, which has point-in-time recovery.',
  );
  acknowledge(
    stack.tables.control,
    'AwsSolutions-DDB3',
    'Control holds cluster locks and idempotency keys that expire (TTL), snapshots that are a cache of the EventLog fold, and simulator state; nothing to restore.',
  );

  acknowledge(
    stack.projectionFailures,
    'AwsSolutions-SQS3',
    'This queue is itself a dead-letter queue: the on-failure destination of the EventLog stream mapping of the projector.',
  );
  acknowledge(
    stack.triggerFailures,
    'AwsSolutions-SQS3',
    'This queue is itself a dead-letter queue: of the EventBridge targets and of the asynchronous invocations of StartFromEvent.',
  );

  // grantPublish on a topic with a customer-managed key: the data key SNS asks for on each
  // publish, on that one key (the resource is the key's ARN, only the action has a wildcard).
  const notifying = [
    ...WORKFLOW_TASK_NAMES.filter((t) => WORKFLOW_TASKS[t].notifies),
    'WatchCluster',
  ] as const;
  for (const name of notifying) {
    const policy = stack.lambdas[name].role.node.tryFindChild('DefaultPolicy');
    if (policy)
      acknowledge(
        policy,
        'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        'Publishing to the outcome topic encrypted with its own key: kms:GenerateDataKey* on that key only, as sns:Publish on an encrypted topic requires.',
      );
  }

  acknowledge(
    stack.api,
    'AwsSolutions-COG4',
    'Callers are operators and automation with AWS credentials: every method is AWS_IAM (SigV4) and access is granted with execute-api IAM policies; there are no end users for a Cognito user pool.',
  );
  acknowledge(
    stack.api.deploymentStage,
    'AwsSolutions-APIG3',
    'Every request must be SigV4-signed by an IAM principal and the stage is throttled; a WAF web ACL is an account-level choice (shared ACLs, cost) left to the deployer.',
  );
  acknowledge(
    stack.api.node.findChild('CloudWatchRole'),
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    'The account-level role API Gateway needs to write access and execution logs; AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for it.',
  );
}
