/** The state machine of a synthesized CloudFormation template could not be found or read. */
export class DefinitionNotFound extends Error {
  override name = 'DefinitionNotFound';
}

interface Template {
  Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }>;
}

/**
 * The state machine definition exactly as CloudFormation receives it. Task `${X}Arn`
 * placeholders stay: locally every Task is overridden by its handler module.
 */
export function definitionFromTemplate(template: Template): Record<string, unknown> {
  const machines = Object.entries(template.Resources ?? {}).filter(
    ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (machines.length !== 1)
    throw new DefinitionNotFound(
      `expected one AWS::StepFunctions::StateMachine in the template, found ${machines.length}`,
    );
  const definition = machines[0]![1].Properties?.DefinitionString;
  if (typeof definition !== 'string')
    throw new DefinitionNotFound(
      'the state machine DefinitionString is not a plain string (use DefinitionSubstitutions for ARNs)',
    );
  return JSON.parse(definition) as Record<string, unknown>;
}

/**
 * Synthesizes the CDK app (without bundling: only the template is needed) and returns the
 * state machine definition `cdk deploy` would ship.
 */
export async function deployedDefinition(): Promise<Record<string, unknown>> {
  const { synthesizedTemplate } = await import('#infra/build-app.ts');
  return definitionFromTemplate(synthesizedTemplate() as Template);
}
