import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClientHookFailed, clientHook } from '#cluster/client-hook.ts';
import type { SegmentRow } from '#domain/segment.ts';

/* The user's hook that moves clients to the new coordinator, run by bash as it will be. */

const activated: SegmentRow = {
  dbid: 10,
  content: -1,
  role: 'p',
  preferred_role: 'p',
  mode: 's',
  status: 'u',
  port: 5433,
  hostname: 'smdw',
  address: 'smdw',
  datadir: '/data1/gpdb/standby/gpseg-1',
};

describe('the client hook', () => {
  it('runs with the new coordinator in its environment', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'hook-')), 'seen');
    const hook = clientHook(
      `echo "$RECOVERSEG_COORDINATOR_HOST $RECOVERSEG_COORDINATOR_PORT $RECOVERSEG_COORDINATOR_DBID $RECOVERSEG_COORDINATOR_DATADIR" > ${out}`,
    );
    await hook.move(activated);
    expect(readFileSync(out, 'utf8')).toBe('smdw 5433 10 /data1/gpdb/standby/gpseg-1\n');
    expect(hook).toMatchObject({ how: 'hook' });
  });

  it('fails naming the exit status, its last words and where the coordinator is now', async () => {
    const failed = clientHook('echo "vip move refused" >&2; exit 3').move(activated);
    await expect(failed).rejects.toThrow(ClientHookFailed);
    await expect(failed).rejects.toThrow(
      /exited 3: vip move refused; the coordinator is dbid 10 on smdw:5433: point clients there yourself/,
    );
  });

  it('passes hostile catalog values as data, never as shell text', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'hook-')), 'seen');
    await clientHook(`printf '%s' "$RECOVERSEG_COORDINATOR_HOST" > ${out}`).move({
      ...activated,
      hostname: 'smdw$(touch /tmp/pwned)',
    });
    expect(readFileSync(out, 'utf8')).toBe('smdw$(touch /tmp/pwned)');
  });
});
