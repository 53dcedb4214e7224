import type { SegmentRow } from '#domain/segment.ts';
import type { ClientEndpoint } from '#cluster/port.ts';

/** The environment variable that names the hook (`serve --client-hook`). */
export const CLIENT_HOOK_ENV = 'COORDINATOR_CLIENT_HOOK';

/** The user's hook failed: clients may still point at the old coordinator. */
export class ClientHookFailed extends Error {
  override name = 'ClientHookFailed';
}

const TIMEOUT_MS = 60_000;

/**
 * Where there is no Route 53 record, the user's own command moves clients (a virtual IP, a
 * load balancer, pgbouncer's config): run by bash on the host recoverseg runs on, with the
 * new coordinator in RECOVERSEG_COORDINATOR_HOST, _ADDRESS, _PORT, _DATADIR and _DBID.
 * It runs again if the step is retried: a hook must be safe to run twice.
 */
export function clientHook(command: string): ClientEndpoint {
  return {
    how: 'hook',
    endpoint: command,
    move: async (to: SegmentRow) => {
      // Loaded when a hook runs: node:child_process (and net, dgram under it) is 4 ms of every
      // Lambda's init, where nothing is ever spawned.
      const { spawn } = await import('node:child_process');
      return new Promise<void>((resolve, reject) => {
        const child = spawn('bash', ['-c', command], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: {
            ...process.env,
            RECOVERSEG_COORDINATOR_HOST: to.hostname,
            RECOVERSEG_COORDINATOR_ADDRESS: to.address,
            RECOVERSEG_COORDINATOR_PORT: String(to.port),
            RECOVERSEG_COORDINATOR_DATADIR: to.datadir,
            RECOVERSEG_COORDINATOR_DBID: String(to.dbid),
          },
        });
        const stderr: Buffer[] = [];
        const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
        child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        child.on('error', (error) => {
          clearTimeout(timer);
          reject(new ClientHookFailed(`client hook ${JSON.stringify(command)}: ${error.message}`));
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (code === 0) return resolve();
          const tail = Buffer.concat(stderr)
            .toString('utf8')
            .trim()
            .split('\n')
            .slice(-3)
            .join(' | ');
          reject(
            new ClientHookFailed(
              `client hook ${JSON.stringify(command)} ${signal ? `was killed (${signal}) after ${TIMEOUT_MS / 1000} s` : `exited ${code}`}${tail ? `: ${tail}` : ''}; the coordinator is dbid ${to.dbid} on ${to.hostname}:${to.port}: point clients there yourself`,
            ),
          );
        });
      });
    },
  };
}
