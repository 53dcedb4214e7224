import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { applyNagChecks } from '#infra/nag.ts';
import { RecoverSegStack } from '#infra/stack.ts';
import { WORKFLOW_TASK_NAMES } from '#infra/tasks.ts';
import { BACKENDS, synthesizedApp } from '#test/infra/synth.ts';

type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };
// asl-validator is CommonJS without type declarations.
const validateAsl = createRequire(import.meta.url)('asl-validator') as AslValidator;

describe('cdk-nag AwsSolutions', () => {
  for (const backend of Object.keys(BACKENDS) as (keyof typeof BACKENDS)[]) {
    it(`synthesizes with every finding acknowledged (${backend} backend)`, () => {
      const { app } = synthesizedApp(backend);
      // The pack is a validation plugin: an unacknowledged finding throws at the synth (in
      // synthesizedApp, whichever file asks first), so this file fails too.
      expect(() => app.synth()).not.toThrow();
      const report = new AwsSolutionsChecks().validateScope(app);
      expect(
        report.violations.map(
          (v) =>
            `${v.severity} ${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
        ),
      ).toEqual([]);
    });
  }

  it('refuses a Resource * that is not on the list of actions AWS only authorizes on *', () => {
    const app = new App({ context: { ...BACKENDS.simulated, 'aws:cdk:bundling-stacks': [] } });
    const stack = new RecoverSegStack(app, 'RecoverSeg');
    stack.lambdas.ProjectConfiguration.fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: ['*'] }),
    );
    expect(() => applyNagChecks(app, stack)).toThrow(
      /ProjectConfigurationRole.*dynamodb:PutItem on Resource \*/,
    );
  });
});

describe('the synthesized state machine definition', () => {
  it('is valid Amazon States Language once the task ARNs are substituted', () => {
    const { app, stack } = synthesizedApp('simulated');
    const template = app.synth().getStackArtifact(stack.artifactId).template as {
      Resources: Record<
        string,
        {
          Type: string;
          Properties: {
            DefinitionString: string;
            DefinitionSubstitutions: Record<string, unknown>;
          };
        }
      >;
    };
    const [machine] = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    const { DefinitionString, DefinitionSubstitutions } = machine!.Properties;
    expect(Object.keys(DefinitionSubstitutions)).toHaveLength(WORKFLOW_TASK_NAMES.length);

    const substituted = Object.keys(DefinitionSubstitutions).reduce(
      (definition, key) =>
        definition.replaceAll(
          `\${${key}}`,
          `arn:aws:lambda:eu-west-1:123456789012:function:recoverseg-${key.replace(/Arn$/, '')}`,
        ),
      DefinitionString,
    );
    expect(substituted).not.toMatch(/\$\{/);
    const { isValid, errorsText } = validateAsl(JSON.parse(substituted));
    expect(isValid, errorsText('\n')).toBe(true);
  });
});
