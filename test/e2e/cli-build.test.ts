import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { buildCli, currentCli } from '../../scripts/build-cli.mjs';

const cache = mkdtempSync(join(tmpdir(), 'recoverseg-cli-build-'));
let entry: string;
let metafile: Metafile;

beforeAll(async () => {
  ({ entry, metafile } = await buildCli(cache));
}, 60_000);
afterAll(() => rmSync(cache, { recursive: true, force: true }));

interface Manifest {
  dir: string;
  startedAt: number;
  inputs: string[];
}
const manifestFile = join(cache, 'current.json');
const manifest = (): Manifest => JSON.parse(readFileSync(manifestFile, 'utf8'));

describe('the built CLI', () => {
  it('is current right after a build, and lists every source it was built from', () => {
    expect(currentCli(cache)).toBe(entry);
    expect(manifest().inputs).toEqual(
      expect.arrayContaining([
        'local/cli.ts',
        'local/cli-local.ts',
        'local/client-commands.ts',
        'infra/state-machine.ts',
        'lambdas/check-sync.ts',
        'shared/domain/events.ts',
        'package.json',
      ]),
    );
  });

  it('is stale once a source is newer than the build, or gone', () => {
    const built = manifest();
    try {
      // As if local/cli.ts had been saved while the build ran.
      const edited = statSync(new URL('../../local/cli.ts', import.meta.url)).mtimeMs;
      writeFileSync(manifestFile, JSON.stringify({ ...built, startedAt: edited }));
      expect(currentCli(cache)).toBeUndefined();
      writeFileSync(
        manifestFile,
        JSON.stringify({ ...built, inputs: [...built.inputs, 'local/removed.ts'] }),
      );
      expect(currentCli(cache)).toBeUndefined();
    } finally {
      writeFileSync(manifestFile, JSON.stringify(built));
    }
    expect(currentCli(cache)).toBe(entry);
  });

  /** The packages an output loads when it is imported: its static imports, transitively. */
  function loadedPackages(output: string): Set<string> {
    const packages = new Set<string>();
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const i of metafile.outputs[file]!.imports) {
        if (i.kind !== 'import-statement') continue;
        if (i.external) packages.add(i.path);
        else visit(i.path);
      }
    };
    visit(output);
    return packages;
  }
  const outputOf = (source: string) =>
    Object.entries(metafile.outputs).find(([, o]) => o.entryPoint === source)![0];
  const HEAVY = [
    /^aws-cdk-lib/,
    /^cdk-nag/,
    /^aws-local-stepfunctions/,
    /^@aws-sdk\//,
    /^@smithy\//,
    /^esbuild/,
  ];

  it('loads commander and Node alone for --help, and nothing heavy for a client command', () => {
    const help = [...loadedPackages(outputOf('local/cli.ts'))].filter(
      (p) => !p.startsWith('node:'),
    );
    expect(help).toEqual(['commander']);
    const client = [...loadedPackages(outputOf('local/client-commands.ts'))];
    expect(client.filter((p) => HEAVY.some((heavy) => heavy.test(p)))).toEqual([]);
    // The commands that run the workflow here do load the local runtime.
    expect([...loadedPackages(outputOf('local/cli-local.ts'))]).toEqual(
      expect.arrayContaining(['aws-local-stepfunctions', '@aws-sdk/client-dynamodb']),
    );
  });
});
