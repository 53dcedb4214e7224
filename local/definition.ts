import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
export async function synthesizedDefinition(): Promise<Record<string, unknown>> {
  const { synthesizedTemplate } = await import('#infra/build-app.ts');
  return definitionFromTemplate(synthesizedTemplate() as Template);
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The entry of the CDK app, as infra/app.ts and the local runner build it. */
const SYNTH_ENTRY = 'infra/build-app.ts';
/** The packages whose code shapes the template besides the repository's own files. */
const SYNTH_PACKAGES = ['aws-cdk-lib', 'cdk-nag', 'constructs'];
export const DEFINITION_CACHE = join(
  REPO_ROOT,
  'node_modules',
  '.cache',
  'recoverseg',
  'definition',
);

/** Everything a synth reads: the repository's files by content hash, the packages by version. */
export interface SynthInputs {
  files: Record<string, string>;
  packages: Record<string, string>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The inputs of a synth: the repository files the CDK app imports, as esbuild follows them
 * from its entry (so a file the app comes to import counts from then on), and the versions of
 * the CDK packages installed.
 */
export async function synthInputs(root = REPO_ROOT): Promise<SynthInputs> {
  const { build } = await import('esbuild');
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: [SYNTH_ENTRY],
    bundle: true,
    write: false,
    metafile: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  const files = await Promise.all(
    Object.keys(metafile.inputs).map(async (file) => [
      file,
      sha256(await readFile(join(root, file), 'utf8')),
    ]),
  );
  const require = createRequire(join(root, 'package.json'));
  const packages = SYNTH_PACKAGES.map((name) => [
    name,
    (
      JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
        version: string;
      }
    ).version,
  ]);
  return { files: Object.fromEntries(files.sort()), packages: Object.fromEntries(packages) };
}

/** The cache key of a synth's output: equal inputs, equal key; any change, another key. */
export function synthKey(inputs: SynthInputs): string {
  const sorted = (record: Record<string, string>) =>
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256(JSON.stringify([sorted(inputs.files), sorted(inputs.packages)]));
}

export interface DefinitionOptions {
  cacheDir?: string;
  synthesize?: () => Promise<Record<string, unknown>>;
}

/**
 * The state machine definition `cdk deploy` would ship, from the synth cache when the app's
 * inputs are those of a synth already made: a synth takes seconds, and the local runner needs
 * the definition at every start. One entry is kept, written whole (renamed into place), so a
 * reader never sees half of one.
 */
export async function deployedDefinition(
  options: DefinitionOptions = {},
): Promise<Record<string, unknown>> {
  const cacheDir = options.cacheDir ?? DEFINITION_CACHE;
  const key = synthKey(await synthInputs());
  const file = join(cacheDir, `${key}.json`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // Not cached yet (or unreadable): synthesize.
  }
  const definition = await (options.synthesize ?? synthesizedDefinition)();
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${file}.${process.pid}`;
  await writeFile(temporary, JSON.stringify(definition));
  await rename(temporary, file);
  for (const other of await readdir(cacheDir))
    if (other !== `${key}.json` && other.endsWith('.json'))
      await rm(join(cacheDir, other), { force: true });
  return definition;
}
