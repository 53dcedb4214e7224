import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workflowInputSchema, type WorkflowInput } from '#domain/step-contract.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { UsageError } from '#local/cli-common.ts';

/**
 * The input of each run a `serve --data DIR` has going, one file per execution in
 * `DIR/serve-runs/`: kept while the run lives and when serve stops it (SIGTERM, Ctrl-C),
 * dropped when it ends. A restarted serve resumes from the log what is still open; this
 * gives it what the log does not keep (the run's waits and limits, the hosts known down).
 */
export class RunJournal {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private file(executionName: string): string {
    return join(this.dir, `${executionName}.json`);
  }

  /** Written aside, then renamed: a serve killed mid-write leaves the old file or the new. */
  keep(executionName: string, input: WorkflowInput): void {
    const aside = `${this.file(executionName)}.${process.pid}`;
    writeFileSync(aside, JSON.stringify(input));
    renameSync(aside, this.file(executionName));
  }

  forget(executionName: string): void {
    rmSync(this.file(executionName), { force: true });
  }

  /** The input kept for the execution, if any. */
  read(executionName: string): WorkflowInput | undefined {
    const file = this.file(executionName);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return parseOrThrow(workflowInputSchema, JSON.parse(text), 'input');
    } catch (error) {
      throw new UsageError(
        `${file} is not the input of a run (${(error as Error).message}): delete it, and the run resumes with the default waits and limits`,
      );
    }
  }

  /** The executions with a kept input. */
  names(): string[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length));
  }
}
