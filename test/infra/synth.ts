import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp } from '#infra/build-app.ts';

/** The contexts the infra tests synthesize: a simulated cluster, and a real one over SSM. */
export const BACKENDS = {
  simulated: { 'recoverseg:clusterBackend': 'simulated', 'recoverseg:clusterId': 'seed' },
  ssm: {
    'recoverseg:clusterBackend': 'ssm',
    'recoverseg:clusterId': 'prod',
    'recoverseg:coordinatorInstanceId': 'i-0123456789abcdef0',
  },
} as const;

export interface Synthesized {
  app: ReturnType<typeof buildApp>['app'];
  stack: ReturnType<typeof buildApp>['stack'];
  template: Template;
  /** The logical id of a construct's CloudFormation resource. */
  id: (construct: IConstruct) => string;
}

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
