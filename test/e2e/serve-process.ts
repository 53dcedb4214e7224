import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '#local/dynamodb-local.ts';

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;

export interface ServeProcess {
  child: ChildProcess;
  endpoint: string;
  /** Everything serve printed so far, stdout and stderr. */
  output: () => string;
}

/**
 * `recoverseg serve --port <free> ...args` as a user starts it, once it says it serves. The
 * bound only stops a serve that never starts; it measures nothing.
 */
export async function startServe(
  args: string[],
  options: SpawnOptions = {},
): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), ...args], {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (const deadline = Date.now() + 60_000; !output.includes('Ctrl-C stops'); await sleep(100))
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`serve did not start: ${output}`);
  return { child, endpoint: `http://127.0.0.1:${port}`, output: () => output };
}
