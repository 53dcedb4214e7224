import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deployedDefinition,
  synthInputs,
  synthKey,
  synthesizedDefinition,
} from '#local/definition.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'recoverseg-definition-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('the cached synth of the state machine definition', () => {
  it('is keyed by every file the CDK app imports and the CDK package versions', async () => {
    const inputs = await synthInputs();
    expect(Object.keys(inputs.files)).toEqual(
      expect.arrayContaining([
        'infra/build-app.ts',
        'infra/stack.ts',
        'infra/state-machine.ts',
        'infra/nag.ts',
        'infra/tasks.ts',
        'shared/domain/step-contract.ts',
      ]),
    );
    const version = (name: string) =>
      JSON.parse(
        readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
      ).version;
    expect(inputs.packages).toEqual({
      'aws-cdk-lib': version('aws-cdk-lib'),
      'cdk-nag': version('cdk-nag'),
      constructs: version('constructs'),
    });

    const key = synthKey(inputs);
    expect(synthKey(structuredClone(inputs))).toBe(key);
    const edited = {
      ...inputs,
      files: { ...inputs.files, 'infra/state-machine.ts': 'another content hash' },
    };
    expect(synthKey(edited)).not.toBe(key);
    const added = { ...inputs, files: { ...inputs.files, 'infra/new-construct.ts': 'hash' } };
    expect(synthKey(added)).not.toBe(key);
    const upgraded = { ...inputs, packages: { ...inputs.packages, 'cdk-nag': '99.0.0' } };
    expect(synthKey(upgraded)).not.toBe(key);
  });

  it('synthesizes once, then reads back what a fresh synth gives', async () => {
    const synthesize = vi.fn(synthesizedDefinition);
    const fresh = await deployedDefinition({ cacheDir, synthesize });
    expect(synthesize).toHaveBeenCalledTimes(1);
    expect(readdirSync(cacheDir)).toEqual([`${synthKey(await synthInputs())}.json`]);

    const cached = await deployedDefinition({ cacheDir, synthesize });
    expect(synthesize).toHaveBeenCalledTimes(1);
    expect(cached).toEqual(fresh);
    expect(cached).toMatchObject({ StartAt: 'ByKind' });
  }, 120_000);
});
