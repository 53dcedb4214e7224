import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OperationHandle } from '#cluster/port.ts';
import { END_MARKER } from '#cluster/greenplum/framing.ts';
import { pollScript } from '#cluster/greenplum/poll.ts';
import { shellQuote } from '#cluster/greenplum/shell.ts';
import { segmentRowSchema, type SegmentRow } from '#domain/segment.ts';

/**
 * Verbatim outputs of a real Greenplum 6.24.3 cluster (test/fixtures/greenplum-6.24.3, see its
 * README.md and _INDEX.txt). A capture is `# command: ...`, the output, and `# exit status: N`
 * added by the capture harness.
 */
const CAPTURES = fileURLToPath(new URL('../../../fixtures/greenplum-6.24.3/', import.meta.url));

export interface Capture {
  name: string;
  command: string;
  /** What the command printed, byte for byte (`\r` and escape sequences included). */
  body: string;
  exitStatus: number;
}

export async function readCapture(name: string): Promise<Capture> {
  const text = await readFile(join(CAPTURES, name), 'utf8');
  const command = /^# command: (.*)\n/.exec(text);
  const exit = /\n# exit status: (\d+)\n?$/.exec(text);
  if (!command || !exit)
    throw new Error(`${name} is not a capture (no command or exit status line)`);
  return {
    name,
    command: command[1]!,
    body: text.slice(command[0].length, exit.index + 1),
    exitStatus: Number(exit[1]),
  };
}

/** gp_segment_configuration as `psql -c "select * ..."` prints it (aligned, with a header). */
export async function catalogCapture(name: string): Promise<SegmentRow[]> {
  const { body } = await readCapture(name);
  const lines = body.split('\n');
  const header = lines[0]!.split('|').map((cell) => cell.trim());
  return lines
    .slice(2)
    .filter((line) => line.includes('|'))
    .map((line) => {
      const cells = Object.fromEntries(
        line.split('|').map((cell, i) => [header[i]!, cell.trim()] as const),
      );
      return segmentRowSchema.parse({
        ...cells,
        dbid: Number(cells.dbid),
        content: Number(cells.content),
        port: Number(cells.port),
      });
    });
}

export async function captureNames(pattern: RegExp): Promise<string[]> {
  return (await readdir(CAPTURES)).filter((name) => pattern.test(name)).sort();
}

/** One call of the project's own adapter on that cluster (adapter-runs-2919f23.jsonl). */
export interface AdapterRun {
  id: string;
  what: string;
  started: string;
  code: number;
  /** The framed stdout, `@@recoverseg:section NAME@@` markers included. */
  decoded: string;
}

let runs: Promise<AdapterRun[]> | undefined;

/** Every call, in the order they were made (tests may name one by its index). */
export function adapterRuns(): Promise<AdapterRun[]> {
  runs ??= readFile(join(CAPTURES, 'adapter-runs-2919f23.jsonl'), 'utf8').then((text) =>
    text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AdapterRun),
  );
  return runs;
}

/** One call by its id, or by the first characters of its id. */
export async function adapterRun(id: string): Promise<AdapterRun> {
  const run = (await adapterRuns()).find((entry) => entry.id.startsWith(id));
  if (!run) throw new Error(`adapter-runs-2919f23.jsonl has no entry ${id}`);
  return run;
}

/** A file gprecoverseg wrote as it is (the `-o` files, e.g. recover_p_sdw3.conf). */
export const readCaptureFile = (name: string): Promise<string> =>
  readFile(join(CAPTURES, name), 'utf8');

/** `text` as the `OutputLine`s of a section that starts at output line 1. */
export const outputLines = (text: string) =>
  text === '' ? [] : text.split('\n').map((line, index) => ({ number: index + 1, text: line }));

/** The lines of one section of a framed adapter output. */
export function sectionText(decoded: string, name: string): string {
  const start = decoded.indexOf(`@@recoverseg:section ${name}@@\n`);
  if (start < 0) throw new Error(`no section ${name}`);
  const body = decoded.slice(start + `@@recoverseg:section ${name}@@\n`.length);
  return body.slice(0, body.search(/^@@recoverseg:/m)).replace(/\n$/, '');
}

export interface RunLog {
  /** Per gprecoverseg the start script's runner ran: its phase name and the capture it printed. */
  phases: { phase: string; capture: Capture }[];
  /** `dbid|content|type|host|port` lines. */
  plan: string[];
  /** False while the run is still going (no `.exit` file yet). */
  finished?: boolean;
}

/**
 * What `pollScript` sends back about a run, produced by running its lines in bash over a state
 * directory written as the start script's runner writes it: each gprecoverseg between
 * `@@recoverseg:phase NAME@@` and `@@recoverseg:phase-exit NAME RC@@`, the exit file holding the
 * first non-zero status.
 */
export async function pollOutput(handle: OperationHandle, run: RunLog): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'recoverseg-poll-'));
  try {
    const op = join(dir, handle.operationId);
    const log = run.phases
      .map(
        ({ phase, capture }) =>
          `@@recoverseg:phase ${phase}@@\n${capture.body}@@recoverseg:phase-exit ${phase} ${capture.exitStatus}@@\n`,
      )
      .join('');
    await writeFile(`${op}.log`, log);
    await writeFile(`${op}.plan`, run.plan.map((line) => `${line}\n`).join(''));
    await writeFile(`${op}.pid`, `${process.pid}\n`);
    if (run.finished ?? true) {
      const rc = run.phases.map((p) => p.capture.exitStatus).find((code) => code !== 0) ?? 0;
      await writeFile(`${op}.exit`, `${rc}\n`);
    }
    const script = [...pollScript(handle), `echo ${shellQuote(END_MARKER)}`].join('\n');
    return await new Promise<string>((resolve, reject) => {
      execFile(
        'bash',
        ['-c', `set -eo pipefail\n${script}`],
        { env: { PATH: '/usr/bin:/bin', RECOVERSEG_STATE_DIR: dir }, maxBuffer: 1 << 24 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`poll script failed: ${stderr}`)) : resolve(stdout),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
