import { ESLint, Linter } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The layering rules of eslint.config.js, one case per rule: an import a folder must not make
 * is an error there, and the same import is fine where the layers allow it.
 */
const eslint = new ESLint({ cwd: process.cwd() });
const linter = new Linter({ configType: 'flat' });

/** Runs the folder's own no-restricted-imports setting, as eslint.config.js resolves it. */
async function restricted(file: string, specifier: string): Promise<boolean> {
  const config = (await eslint.calculateConfigForFile(file)) as Linter.Config;
  const setting = config.rules?.['no-restricted-imports'];
  expect(setting, `${file} has a layering rule`).toBeDefined();
  const code = `import * as m from '${specifier}';\nexport const used = m;\n`;
  return linter
    .verify(code, { rules: { 'no-restricted-imports': setting! } })
    .some((m) => m.ruleId === 'no-restricted-imports');
}

const RULES: { folder: string; forbidden: string[]; allowed: string[] }[] = [
  {
    folder: 'shared/domain/x.ts',
    forbidden: [
      '#store/event-store.ts',
      '#cluster/port.ts',
      '#app/steps.ts',
      '#api/routes.ts',
      '#lambdas/route-api.ts',
      '#infra/tasks.ts',
      '#local/cli.ts',
      'node:fs',
      '@aws-sdk/client-dynamodb',
      'aws-cdk-lib',
      '../store/event-store.ts',
    ],
    allowed: ['#domain/events.ts', 'zod', './events.ts'],
  },
  {
    folder: 'shared/store/x.ts',
    forbidden: [
      '#app/steps.ts',
      '#api/routes.ts',
      '#lambdas/route-api.ts',
      '#infra/tasks.ts',
      '#local/cli.ts',
    ],
    allowed: ['#domain/events.ts', '@aws-sdk/lib-dynamodb', 'node:crypto'],
  },
  {
    folder: 'shared/cluster/x.ts',
    forbidden: [
      '#app/steps.ts',
      '#api/routes.ts',
      '#lambdas/route-api.ts',
      '#infra/tasks.ts',
      '#local/cli.ts',
    ],
    allowed: ['#domain/events.ts', '#store/tables.ts', '@aws-sdk/client-ssm'],
  },
  {
    folder: 'shared/app/x.ts',
    forbidden: ['#lambdas/route-api.ts', '#infra/tasks.ts', '#local/cli.ts'],
    allowed: ['#store/stores.ts', '#cluster/port.ts', '#domain/decisions.ts'],
  },
  {
    folder: 'lambdas/x.ts',
    forbidden: ['#infra/tasks.ts', '#local/cli.ts', '#test/support.ts'],
    allowed: ['#app/steps.ts', '#api/routes.ts', '#store/stores.ts'],
  },
  {
    folder: 'infra/x.ts',
    forbidden: ['#local/cli.ts', '#test/support.ts'],
    allowed: ['aws-cdk-lib', '#store/tables.ts', '#domain/step-contract.ts'],
  },
];

describe('layering (eslint.config.js)', () => {
  for (const rule of RULES) {
    describe(rule.folder.replace(/x\.ts$/, ''), () => {
      it.each(rule.forbidden)('refuses %s', async (specifier) => {
        expect(await restricted(rule.folder, specifier)).toBe(true);
      });
      it.each(rule.allowed)('allows %s', async (specifier) => {
        expect(await restricted(rule.folder, specifier)).toBe(false);
      });
    });
  }
});
