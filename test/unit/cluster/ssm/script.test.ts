import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SsmScriptTooLarge } from '#cluster/greenplum/errors.ts';
import { SSM_COMMAND_LIMIT, scriptCommands } from '#cluster/ssm/script.ts';
import { CoordinatorStub } from '#test/unit/cluster/greenplum/coordinator-stub.ts';

/**
 * Each form of command runs in a real POSIX sh (dash), as AWS-RunShellScript runs it, with sudo
 * stubbed: the script that reaches the admin user's bash is the one that was sent.
 */
let stub: CoordinatorStub;
let stageDirectory: string;
beforeAll(async () => {
  stub = await CoordinatorStub.create();
  stageDirectory = join(stub.root, 'stage');
});
afterAll(() => stub.dispose());

/** A script of about `chars` characters; `random` padding compresses about as well as hex. */
const scriptOf = (chars: number, padding: 'repeated' | 'random'): string => {
  const pad = padding === 'repeated' ? 'x'.repeat(chars) : randomBytes(chars / 2).toString('hex');
  return ['echo "ran as $(id -un)"', `: '${pad}'`, 'echo done', 'exit 3'].join('\n');
};

const commandsFor = (script: string) =>
  scriptCommands('start recovery', script, stub.adminUser, {
    directory: stageDirectory,
    stageId: () => 'stage-1',
  });

describe('scriptCommands', () => {
  it.each([
    ['as it is, when it fits one command', scriptOf(1_000, 'repeated'), 0, /bash -c /],
    ['compressed, when only that fits', scriptOf(200_000, 'repeated'), 0, /base64 -d/],
    ['in pieces, when even compressed it does not', scriptOf(90_000, 'random'), 2, /cat /],
  ])('sends the script %s', async (_, script, pieces, form) => {
    const { staging, run } = commandsFor(script);
    expect(staging).toHaveLength(pieces);
    expect(run).toMatch(form);
    for (const command of [...staging, run])
      expect(command.length).toBeLessThanOrEqual(SSM_COMMAND_LIMIT);
    for (const command of staging) expect((await stub.run(command)).code).toBe(0);

    const result = await stub.run(run);

    expect(result).toMatchObject({ code: 3, stdout: `ran as ${stub.adminUser}\ndone\n` });
    expect((await stub.calls('sudo')).at(-1)).toBe(`-u ${stub.adminUser} -H`);
    expect(await readdir(stageDirectory).catch(() => [])).toEqual([]);
  });

  it('runs none of a script whose piece was lost, and says so', async () => {
    const { staging, run } = commandsFor(scriptOf(90_000, 'random'));
    expect((await stub.run(staging[0]!)).code).toBe(0);
    const result = await stub.run(run);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('recoverseg: start recovery: the script did not arrive whole');
    expect(await readdir(stageDirectory)).toEqual([]);
  });

  it('refuses, before sending anything, a script beyond what staging carries', () => {
    expect(() => commandsFor(scriptOf(4_600_000, 'random'))).toThrow(SsmScriptTooLarge);
  });
});
