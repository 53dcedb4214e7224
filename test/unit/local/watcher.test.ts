import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WatchDeps } from '#app/watch.ts';
import type { ClusterOperations } from '#cluster/port.ts';
import { UsageError } from '#local/cli-common.ts';
import { watching } from '#local/cli-local.ts';
import { LocalWatcher, loggingNotifier } from '#local/watcher.ts';
import { RecordingStarter } from '#test/unit/api/support.ts';
import { stepsHarness, type StepsHarness } from '#test/unit/app/steps-harness.ts';

/*
 * serve's watcher on a fake timer: each round is the WatchCluster step over every cluster,
 * timed from the end of the last; failures are logged when they change, never thrown.
 */

let h: StepsHarness;
let lines: string[];
let watcher: LocalWatcher | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  h = stepsHarness();
  lines = [];
});

afterEach(async () => {
  await watcher?.stop();
  vi.useRealTimers();
});

function watch(deps: Partial<WatchDeps> = {}, clusters = async () => ['one']) {
  watcher = new LocalWatcher({
    seconds: 5,
    deps: {
      stores: h.stores,
      cluster: h.sim,
      notifier: loggingNotifier((line) => lines.push(line)),
      starter: new RecordingStarter(),
      now: () => new Date(),
      ...deps,
    },
    clusters,
    log: (line) => lines.push(line),
  });
  watcher.start();
  return watcher;
}

/** Runs the timer to the next round and lets it finish. */
const nextRound = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe('LocalWatcher', () => {
  it('looks at once, then every N seconds after the last round ended, and keeps the last look', async () => {
    await h.seed('one');
    const w = watch();
    await nextRound(0);
    expect(w.lastLook('one')).toMatchObject({ whole: true, action: 'seen-whole' });
    expect(lines).toEqual([
      'watcher: cluster one: 0 down, 0 not in sync, 0 switched, 0 double faults; recorded 2 events (seen-whole)',
    ]);
    const first = w.lastLook('one')!.at;
    await nextRound(4_999);
    expect(w.lastLook('one')!.at).toBe(first);
    await nextRound(1);
    // The second look records nothing and says nothing.
    expect(w.lastLook('one')).toMatchObject({ whole: true, action: 'record' });
    expect(lines).toHaveLength(1);
  });

  it('logs a failing look once while it fails the same way, and once when it looks again', async () => {
    await h.seed('one');
    let broken = true;
    const cluster = (id: string): ClusterOperations =>
      broken
        ? ({
            readConfiguration: () => Promise.reject(new Error('ssh: connect to host mdw: refused')),
          } as unknown as ClusterOperations)
        : h.sim(id);
    const w = watch({ cluster });
    await nextRound(0);
    await nextRound(5_000);
    await nextRound(5_000);
    expect(lines).toEqual([
      'watcher: cluster one: look failed: Error: ssh: connect to host mdw: refused',
    ]);
    expect(w.lastLook('one')).toMatchObject({
      action: 'failed',
      whole: false,
      error: 'Error: ssh: connect to host mdw: refused',
    });
    broken = false;
    await nextRound(5_000);
    expect(lines.slice(1)).toEqual([
      'watcher: cluster one: looks again',
      'watcher: cluster one: 0 down, 0 not in sync, 0 switched, 0 double faults; recorded 2 events (seen-whole)',
    ]);
  });

  it('an unknown cluster fails its own look, not the others', async () => {
    await h.seed('one');
    const w = watch({}, async () => ['gone', 'one']);
    await nextRound(0);
    expect(lines[0]).toMatch(/^watcher: cluster gone: look failed: UnknownCluster: /);
    expect(w.lastLook('one')).toMatchObject({ whole: true });
  });

  it('stop waits for the round in flight and starts no other', async () => {
    await h.seed('one');
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    let rounds = 0;
    const w = watch({}, async () => {
      rounds += 1;
      await held;
      return ['one'];
    });
    await nextRound(0);
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    await nextRound(0);
    expect(stopped).toBe(false);
    release();
    await stopping;
    await nextRound(60_000);
    expect(rounds).toBe(1);
    expect(w.lastLook('one')).toBeUndefined();
  });
});

describe('serve --watch-seconds and --poll-seconds', () => {
  it.each([
    [{}, { seconds: 30 }],
    [{ 'watch-seconds': '0' }, { seconds: 0 }],
    [
      { 'watch-seconds': '10', 'poll-seconds': '5' },
      { seconds: 10, pollSeconds: 5 },
    ],
    [{ 'watch-seconds': '86400' }, { seconds: 86_400 }],
  ])('%j reads as %j', (values, expected) => {
    expect(watching(values)).toEqual(expected);
  });

  it.each([
    [{ 'watch-seconds': '-1' }, '--watch-seconds -1: expected a whole number >= 0'],
    [{ 'watch-seconds': '1.5' }, '--watch-seconds 1.5: expected a whole number >= 0'],
    [{ 'watch-seconds': 'soon' }, '--watch-seconds soon: expected a whole number >= 0'],
    [
      { 'watch-seconds': '9999999999' },
      '--watch-seconds 9999999999: expected at most 86400 (a day); 0 turns watching off',
    ],
    [{ 'poll-seconds': '3601' }, '--poll-seconds 3601: expected at most 3600'],
  ])('%j is refused: %s', (values, message) => {
    expect(() => watching(values)).toThrow(new UsageError(message));
  });
});
