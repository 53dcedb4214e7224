import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp } from '#infra/build-app.ts';
import type { FunctionName } from '#infra/stack.ts';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';

/** Every function the stack builds. */
export const FUNCTION_NAMES = [
  ...Object.keys(WORKFLOW_TASKS),
  ...Object.keys(SERVICE_FUNCTIONS),
] as FunctionName[];

/** The contexts the infra tests synthesize: a simulated cluster, and a real one over SSM with a standby. */
export const BACKENDS = {
  simulated: { 'recoverseg:clusterBackend': 'simulated', 'recoverseg:clusterId': 'seed' },
  ssm: {
    'recoverseg:clusterBackend': 'ssm',
    'recoverseg:clusterId': 'prod',
    'recoverseg:coordinatorInstanceId': 'i-0123456789abcdef0',
    // A standby and a Route 53 record: the failover's grants are in the one SSM synth.
    'recoverseg:standbyInstanceId': 'i-0fedcba9876543210',
    'recoverseg:coordinatorHost': 'mdw',
    'recoverseg:standbyHost': 'smdw',
    'recoverseg:coordinatorRecord': 'Z0123456789ABCDEFGHIJ/gp.example.com/30',
  },
} as const;

export interface Synthesized {
  app: ReturnType<typeof buildApp>['app'];
  stack: ReturnType<typeof buildApp>['stack'];
  template: Template;
  /** The logical id of a construct's CloudFormation resource. */
  id: (construct: IConstruct) => string;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

/** Every statement of every inline policy attached to the role of a function (or the state machine). */
export function statementsOf(
  { template, id }: Synthesized,
  role: IConstruct,
): { actions: string[]; resources: unknown[]; conditions?: Record<string, unknown> }[] {
  const roleId = id(role);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .map((s) => ({
      actions: [s.Action].flat(),
      resources: [s.Resource].flat(),
      ...(s.Condition ? { conditions: s.Condition } : {}),
    }));
}

/** An EC2 instance's ARN as the stack writes it (formatArn in the stack's partition, region, account). */
export const instanceArn = (instanceId: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':ec2:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:instance/${instanceId}`,
    ],
  ],
});

const synthesized = new Map<keyof typeof BACKENDS, Synthesized>();

/**
 * The app of a backend, synthesized (without bundling) once per worker: the infra project
 * shares modules between its files, and stack, nag and observability tests read the same
 * assembly instead of building it three times (seconds each). Nothing may change it.
 */
export function synthesizedApp(backend: keyof typeof BACKENDS): Synthesized {
  let built = synthesized.get(backend);
  if (!built) {
    const { app, stack } = buildApp({ context: { ...BACKENDS[backend] }, bundle: false });
    const template = Template.fromJSON(
      app.synth().getStackArtifact(stack.artifactId).template as Record<string, unknown>,
    );
    const id = (construct: IConstruct) =>
      stack.getLogicalId(construct.node.defaultChild as CfnElement);
    built = { app, stack, template, id };
    synthesized.set(backend, built);
  }
  return built;
}
