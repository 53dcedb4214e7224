import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SERVICE_FUNCTIONS, WORKFLOW_TASKS } from '#infra/tasks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Everything the Lambdas take from the AWS SDK, which they do not bundle: the nodejs24.x
 * runtime provides its own v3, whichever release AWS ships that month, not the one
 * package-lock.json pins. Each name here is old (lib-dynamodb, util-dynamodb, the clients,
 * their commands and modelled exceptions all date from 2021-2022 releases of v3, long before
 * the runtime existed), and only client constructors, commands and `instanceof` on modelled
 * exceptions are used. A new import fails this test: check that the runtime's SDK has it
 * (AWS lists the version per runtime), then add it here.
 */
const RUNTIME_SDK_SURFACE: Record<string, string[]> = {
  '@aws-sdk/client-dynamodb': [
    'ConditionalCheckFailedException',
    'DynamoDBClient',
    'TransactionCanceledException',
  ],
  '@aws-sdk/client-ec2': ['DescribeTagsCommand', 'EC2Client'],
  '@aws-sdk/client-sfn': [
    'DescribeExecutionCommand',
    'ExecutionAlreadyExists',
    'ExecutionDoesNotExist',
    'SFNClient',
    'StartExecutionCommand',
    'StopExecutionCommand',
  ],
  '@aws-sdk/client-sns': ['PublishCommand', 'SNSClient'],
  '@aws-sdk/client-ssm': ['GetCommandInvocationCommand', 'SSMClient', 'SendCommandCommand'],
  '@aws-sdk/lib-dynamodb': [
    'BatchWriteCommand',
    'DeleteCommand',
    'DynamoDBDocumentClient',
    'GetCommand',
    'PutCommand',
    'QueryCommand',
    'ScanCommand',
    'TransactWriteCommand',
  ],
  '@aws-sdk/util-dynamodb': ['unmarshall'],
};

/** The source files esbuild puts into the Lambda bundles (the SDK left out, as the stack does). */
async function bundledSources(): Promise<string[]> {
  const entries = Object.values({ ...WORKFLOW_TASKS, ...SERVICE_FUNCTIONS }).map(({ entry }) =>
    join(ROOT, entry),
  );
  const { metafile } = await build({
    entryPoints: entries,
    outdir: join(ROOT, 'unused-out'),
    write: false,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    external: ['@aws-sdk/*'],
    tsconfig: join(ROOT, 'tsconfig.json'),
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(metafile.inputs).filter((path) => !path.includes('node_modules/'));
}

/** Value (not type-only) names each file imports or re-exports from `@aws-sdk/*`. */
function sdkImports(files: string[]): Record<string, string[]> {
  const used = new Map<string, Set<string>>();
  const add = (from: string, name: string) =>
    used.set(from, (used.get(from) ?? new Set()).add(name));
  for (const file of files) {
    const source = ts.createSourceFile(
      file,
      readFileSync(join(ROOT, file), 'utf8'),
      ts.ScriptTarget.Latest,
    );
    for (const statement of source.statements) {
      const declaration =
        ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)
          ? statement
          : undefined;
      const from =
        declaration?.moduleSpecifier && ts.isStringLiteral(declaration.moduleSpecifier)
          ? declaration.moduleSpecifier.text
          : undefined;
      if (!declaration || !from?.startsWith('@aws-sdk/')) continue;
      if (ts.isImportDeclaration(declaration)) {
        const clause = declaration.importClause;
        if (!clause || clause.isTypeOnly) continue;
        if (clause.name) add(from, 'default');
        const bindings = clause.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) add(from, '*');
        if (bindings && ts.isNamedImports(bindings))
          for (const element of bindings.elements)
            if (!element.isTypeOnly) add(from, (element.propertyName ?? element.name).text);
      } else if (!declaration.isTypeOnly) {
        const clause = declaration.exportClause;
        if (!clause || !ts.isNamedExports(clause)) add(from, '*');
        else
          for (const element of clause.elements)
            if (!element.isTypeOnly) add(from, (element.propertyName ?? element.name).text);
      }
    }
  }
  return Object.fromEntries(
    [...used]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([from, names]) => [from, [...names].sort()]),
  );
}

describe('the AWS SDK the Lambdas expect of the nodejs24.x runtime', () => {
  it('is exactly the surface listed here', { timeout: 60_000 }, async () => {
    const sources = await bundledSources();
    expect(sources).toContain('lambdas/start-from-event.ts');
    expect(sdkImports(sources)).toEqual(RUNTIME_SDK_SURFACE);
  });
});
