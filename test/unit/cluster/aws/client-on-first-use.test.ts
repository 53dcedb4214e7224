import { describe, expect, it, vi } from 'vitest';
import { clientOnFirstUse } from '#cluster/aws/client-on-first-use.ts';

describe('clientOnFirstUse', () => {
  it('loads nothing until the first call, then the module and the client once for every call', async () => {
    const sdk = { name: 'module' };
    const load = vi.fn(async () => sdk);
    const make = vi.fn((loaded: typeof sdk) => ({ made: loaded.name }));
    const client = clientOnFirstUse(load, make);
    expect(load).not.toHaveBeenCalled();
    const [first, second] = await Promise.all([client(), client()]);
    expect(await client()).toBe(first);
    expect(second).toBe(first);
    expect(first).toEqual({ sdk, client: { made: 'module' } });
    expect(load).toHaveBeenCalledTimes(1);
    expect(make).toHaveBeenCalledTimes(1);
  });
});
