import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeOutput } from '#cluster/ssm/run-command.ts';

/**
 * A fake coordinator: the generated Run Command text runs in a real bash, with `sudo`, `psql`,
 * `gprecoverseg` and `gpstate` replaced by stubs that record their arguments and answer from
 * files. Quoting, the background start and the poll pipeline are exercised for real.
 */

export const fixturePath = (name: string): string =>
  fileURLToPath(new URL(`../../../fixtures/greenplum/${name}`, import.meta.url));

export const readFixture = (name: string): Promise<string> => readFile(fixturePath(name), 'utf8');

const SUDO = `#!/bin/bash
options=()
while [ "$#" -gt 0 ] && [ "$1" != bash ]; do options+=("$1"); shift; done
printf '%s\\n' "\${options[*]}" >> "$STUB_DIR/sudo.calls"
exec "$@"
`;

// Answers by what the SQL asks; records every statement, NUL-separated.
const PSQL = `#!/bin/bash
sql=""
while [ "$#" -gt 0 ]; do
  if [ "$1" = -c ]; then sql="$2"; shift; fi
  shift
done
printf '%s\\0' "$sql" >> "$STUB_DIR/psql.calls"
case "$sql" in
  *gp_request_fts_probe_scan*) key=probe ;;
  *gp_configuration_history*) key=double_faults ;;
  *"'incremental'"*) key=plan ;;
  *gp_segment_configuration*) key=segments ;;
  *gp_stat_replication*) key=replication ;;
  *server_version_num*) key=version ;;
  *pg_wal_lsn_diff*) key=wal_lag_7 ;;
  *pg_xlog_location_diff*) key=wal_lag_6 ;;
  *) echo "psql stub: unexpected SQL: $sql" >&2; exit 3 ;;
esac
if [ -e "$STUB_DIR/psql/$key.error" ]; then cat "$STUB_DIR/psql/$key.error" >&2; exit 1; fi
cat "$STUB_DIR/psql/$key" 2>/dev/null || true
`;

// The n-th call prints gprecoverseg/<n>.log and exits with gprecoverseg/<n>.exit; while
// $STUB_DIR/hold exists it waits, so a test can poll a run that is still going.
const GPRECOVERSEG = `#!/bin/bash
printf '%s\\n' "$*" >> "$STUB_DIR/gprecoverseg.calls"
n=$(wc -l < "$STUB_DIR/gprecoverseg.calls")
cat "$STUB_DIR/gprecoverseg/$n.log" 2>/dev/null || true
for _ in $(seq 1 400); do [ -e "$STUB_DIR/hold" ] || break; sleep 0.05; done
exit "$(cat "$STUB_DIR/gprecoverseg/$n.exit" 2>/dev/null || echo 0)"
`;

const GPSTATE = `#!/bin/bash
printf '%s\\n' "$*" >> "$STUB_DIR/gpstate.calls"
cat "$STUB_DIR/gpstate$1.txt"
exit 1
`;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CoordinatorStub {
  private constructor(
    readonly root: string,
    readonly gphome: string,
    readonly home: string,
    readonly stubDir: string,
    readonly coordinatorDataDirectory: string,
  ) {}

  static async create(): Promise<CoordinatorStub> {
    const root = await mkdtemp(join(tmpdir(), 'recoverseg-coordinator-'));
    const bin = join(root, 'bin');
    const gphome = join(root, 'gphome');
    const home = join(root, 'home');
    const stubDir = join(root, 'stub');
    const cdd = join(root, 'data1', 'master', 'gpseg-1');
    for (const dir of [
      bin,
      gphome,
      home,
      stubDir,
      cdd,
      join(stubDir, 'psql'),
      join(stubDir, 'gprecoverseg'),
    ])
      await mkdir(dir, { recursive: true });
    const scripts = { sudo: SUDO, psql: PSQL, gprecoverseg: GPRECOVERSEG, gpstate: GPSTATE };
    for (const [name, text] of Object.entries(scripts)) {
      await writeFile(join(bin, name), text);
      await chmod(join(bin, name), 0o755);
    }
    await writeFile(join(gphome, 'greenplum_path.sh'), `export PATH="${bin}:$PATH"\n`);
    return new CoordinatorStub(root, gphome, home, stubDir, cdd);
  }

  async dispose(): Promise<void> {
    // A background run may still be writing its last files.
    await rm(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }

  /** Runs the text as AWS-RunShellScript would (as root, here as the test user), sudo stubbed. */
  run(commandText: string): Promise<RunResult> {
    return new Promise((resolve) => {
      execFile(
        'bash',
        ['-c', commandText],
        {
          cwd: this.root,
          env: {
            PATH: `${join(this.root, 'bin')}:/usr/bin:/bin`,
            HOME: this.home,
            STUB_DIR: this.stubDir,
          },
          timeout: 20_000,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  /** Runs the command and decodes its gzip+base64 stdout, failing loudly on a non-zero exit. */
  async output(commandText: string): Promise<string> {
    const result = await this.run(commandText);
    if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
    return decodeOutput('stub', 'stub-command', result.stdout);
  }

  answerSql(key: string, text: string): Promise<void> {
    return writeFile(join(this.stubDir, 'psql', key), text);
  }

  failSql(key: string, stderr: string): Promise<void> {
    return writeFile(join(this.stubDir, 'psql', `${key}.error`), stderr);
  }

  async gprecovesegRun(n: number, log: string, exitCode: number): Promise<void> {
    await writeFile(join(this.stubDir, 'gprecoverseg', `${n}.log`), log);
    await writeFile(join(this.stubDir, 'gprecoverseg', `${n}.exit`), String(exitCode));
  }

  gpstateAnswer(flag: '-m' | '-e', text: string): Promise<void> {
    return writeFile(join(this.stubDir, `gpstate${flag}.txt`), text);
  }

  hold(): Promise<void> {
    return writeFile(join(this.stubDir, 'hold'), '');
  }

  release(): Promise<void> {
    return rm(join(this.stubDir, 'hold'), { force: true });
  }

  async calls(program: 'sudo' | 'gprecoverseg' | 'gpstate'): Promise<string[]> {
    const text = await readFile(join(this.stubDir, `${program}.calls`), 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line !== '');
  }

  async sqlCalls(): Promise<string[]> {
    const text = await readFile(join(this.stubDir, 'psql.calls'), 'utf8').catch(() => '');
    return text.split('\0').filter((sql) => sql !== '');
  }

  stateFile(operationId: string, suffix: string): Promise<string> {
    return readFile(
      join(this.home, 'gpAdminLogs', 'recoverseg', `${operationId}.${suffix}`),
      'utf8',
    );
  }

  /** Waits until the background run has written its exit code. */
  async waitForExit(operationId: string): Promise<string> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const exit = await this.stateFile(operationId, 'exit').catch(() => undefined);
      if (exit !== undefined) return exit.trim();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${operationId} never exited`);
  }
}

/** The seed cluster after segment-2 failed (table 1), as psql -A -t -F '|' prints it. */
export const SEED_HOST_DOWN_ROWS = [
  '1|-1|p|p|n|u|5432|master|master|/data1/master/gpseg-1',
  '10|-1|m|m|s|u|5432|standby|standby|/data1/master/gpseg-1',
  '2|0|p|p|n|u|10000|segment-1|segment-1|/data1/primary/gpseg0',
  '6|0|m|m|n|d|10500|segment-2|segment-2|/data1/mirror/gpseg0',
  '3|1|p|p|n|u|10001|segment-1|segment-1|/data1/primary/gpseg1',
  '7|1|m|m|n|d|10501|segment-2|segment-2|/data1/mirror/gpseg1',
  '8|2|p|m|n|u|10500|segment-1|segment-1|/data1/mirror/gpseg2',
  '4|2|m|p|n|d|10000|segment-2|segment-2|/data1/primary/gpseg2',
  '9|3|p|m|n|u|10501|segment-1|segment-1|/data1/mirror/gpseg3',
  '5|3|m|p|n|d|10001|segment-2|segment-2|/data1/primary/gpseg3',
].join('\n');
