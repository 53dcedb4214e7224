export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a program with the script on its stdin (`bash -s`, `ssh … bash -s`): no argument length
 * limit and nothing of the script on a command line `ps` shows.
 */
export async function runWithStdin(
  program: string,
  args: readonly string[],
  stdin: string,
  timeoutMs: number,
): Promise<ProcessResult> {
  // Loaded at the first script: node:child_process (and net, dgram under it) is 4 ms of every
  // Lambda's init, where the SSM transport runs scripts instead.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
      });
    });
    // A script that exits before reading all of its stdin is reported by its exit status.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}
