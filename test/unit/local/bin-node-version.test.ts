import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const BIN = new URL('../../../local/bin/recoverseg.js', import.meta.url).pathname;
const PACKAGE = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
) as { devDependencies: { node: string } };
const NEEDED = PACKAGE.devDependencies.node.replace(/^\D*/, '');

/** A Node on this machine older than the project's (the machine's own, under its npm's). */
function olderNode(): { path: string; version: string } | undefined {
  const candidates = new Set([
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'node')),
    '/usr/local/bin/node',
    '/usr/bin/node',
  ]);
  const major = Number(NEEDED.split('.')[0]);
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout?.trim().slice(1);
    if (version && Number(version.split('.')[0]) < major) return { path, version };
  }
  return undefined;
}

const older = olderNode();

describe('local/bin/recoverseg.js on a Node older than the project needs', () => {
  it.skipIf(!older)('refuses in one line naming the Node it needs, exit 2', () => {
    const result = spawnSync(older!.path, [BIN, 'status', '--cluster', 'seed'], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `recoverseg: needs Node ${NEEDED} or later, and this is Node ${older!.version} (${older!.path}): run npx recoverseg, or node_modules/.bin/node local/bin/recoverseg.js\n`,
    );
  });
});
