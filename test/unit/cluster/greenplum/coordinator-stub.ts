import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { decodeOutput } from '#cluster/ssm/run-command.ts';
import { readCapture, type Capture } from './captures.ts';

/**
 * A fake coordinator: the generated scripts run in a real bash, with `sudo`, `ssh`, `psql`,
 * `postgres`, `pg_isready`, `gprecoverseg` and `gpstate` replaced by stubs that record their
 * arguments and answer with verbatim outputs of a real Greenplum 6.24.3 cluster
 * (test/fixtures/greenplum-6.24.3). Quoting, the background start and the poll pipeline are
 * exercised for real.
 */

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
  *"'incremental'"*) key=plan ;;
  *"r.flush_location"*) key=replay_lag ;;
  *gp_dist_random*) key=wal_lag ;;
  *gp_stat_replication*) key=replication ;;
  *gp_segment_configuration*) key=segments ;;
  *) echo "psql stub: unexpected SQL: $sql" >&2; exit 3 ;;
esac
if [ -e "$STUB_DIR/psql/$key.error" ]; then cat "$STUB_DIR/psql/$key.error" >&2; exit 1; fi
cat "$STUB_DIR/psql/$key" 2>/dev/null || true
`;

// capture 01a's answer unless a test names another release.
const POSTGRES = `#!/bin/bash
printf '%s\\n' "$*" >> "$STUB_DIR/postgres.calls"
cat "$STUB_DIR/postgres-version"
`;

// Answers as captures 102 and 103 show: "<host>:<port> - accepting connections" (0), "- no
// response" (2), or "- mirror ready" (64: a mirror, or one FTS has just promoted).
const PG_ISREADY = `#!/bin/bash
host=""; port=""
while [ "$#" -gt 0 ]; do
  case "$1" in -h) host="$2"; shift ;; -p) port="$2"; shift ;; esac
  shift
done
printf '%s:%s\\n' "$host" "$port" >> "$STUB_DIR/pg_isready.calls"
if grep -qx "$port" "$STUB_DIR/dead-ports" 2>/dev/null; then echo "$host:$port - no response"; exit 2; fi
if grep -qx "$port" "$STUB_DIR/mirror-ready-ports" 2>/dev/null; then echo "$host:$port - mirror ready"; exit 64; fi
echo "$host:$port - accepting connections"
`;

// The n-th call prints gprecoverseg/<n>.log and exits with gprecoverseg/<n>.exit; with -o it
// writes gprecoverseg/<n>.preview to the named file. While $STUB_DIR/hold exists it waits, so
// a test can poll a run that is still going.
const GPRECOVERSEG = `#!/bin/bash
printf '%s\\n' "$*" >> "$STUB_DIR/gprecoverseg.calls"
n=$(wc -l < "$STUB_DIR/gprecoverseg.calls")
while [ "$#" -gt 0 ]; do
  if [ "$1" = -o ]; then cp "$STUB_DIR/gprecoverseg/$n.preview" "$2"; shift; fi
  shift
done
cat "$STUB_DIR/gprecoverseg/$n.log" 2>/dev/null || true
for _ in $(seq 1 400); do [ -e "$STUB_DIR/hold" ] || break; sleep 0.05; done
exit "$(cat "$STUB_DIR/gprecoverseg/$n.exit" 2>/dev/null || echo 0)"
`;

const GPSTATE = `#!/bin/bash
printf '%s\\n' "$*" >> "$STUB_DIR/gpstate.calls"
cat "$STUB_DIR/gpstate$1.txt"
exit "$(cat "$STUB_DIR/gpstate$1.exit" 2>/dev/null || echo 0)"
`;

// gpactivatestandby and gpinitstandby: record their arguments, the PGPORT and data directory
// they were given and the ssh they would run, then print their capture and exit with its status.
const STANDBY_TOOL = `#!/bin/bash
name=$(basename "$0")
printf '%s|%s|%s|%s\\n' "$*" "$PGPORT" "\${MASTER_DATA_DIRECTORY:-}" "$(command -v ssh)" >> "$STUB_DIR/$name.calls"
cat "$STUB_DIR/$name.txt"
exit "$(cat "$STUB_DIR/$name.exit" 2>/dev/null || echo 0)"
`;

// pg_ctl status: a postmaster runs while $STUB_DIR/postmaster-running exists; stop ends it.
const PG_CTL = `#!/bin/bash
printf '%s\\n' "$*" >> "$STUB_DIR/pg_ctl.calls"
case "$1" in
  status) [ -e "$STUB_DIR/postmaster-running" ] && exit 0; exit 3 ;;
  stop) rm -f "$STUB_DIR/postmaster-running" ;;
esac
`;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type StubProgram =
  | 'sudo'
  | 'ssh'
  | 'postgres'
  | 'pg_isready'
  | 'gprecoverseg'
  | 'gpstate'
  | 'pg_ctl'
  | 'gpactivatestandby'
  | 'gpinitstandby';

export class CoordinatorStub {
  /** Scripts must run as the admin user; on the stub that is whoever runs the tests. */
  readonly adminUser = userInfo().username;

  private constructor(
    readonly root: string,
    readonly gphome: string,
    readonly home: string,
    readonly stubDir: string,
    readonly coordinatorDataDirectory: string,
  ) {}

  get bin(): string {
    return join(this.root, 'bin');
  }

  /** The settings that point the adapter at this stub. */
  get settings() {
    return {
      gphome: this.gphome,
      coordinatorDataDirectory: this.coordinatorDataDirectory,
      adminUser: this.adminUser,
      port: 5432,
    };
  }

  static async create(
    environmentScript: 'greenplum_path.sh' | 'cloudberry-env.sh' = 'greenplum_path.sh',
  ): Promise<CoordinatorStub> {
    const root = await mkdtemp(join(tmpdir(), 'recoverseg-coordinator-'));
    const bin = join(root, 'bin');
    const gphome = join(root, 'gphome');
    const home = join(root, 'home');
    const stubDir = join(root, 'stub');
    const cdd = join(root, 'data1', 'master', 'gpseg-1');
    for (const dir of [bin, gphome, home, stubDir, cdd, join(stubDir, 'psql')])
      await mkdir(dir, { recursive: true });
    await mkdir(join(stubDir, 'gprecoverseg'), { recursive: true });
    // What a shell on the coordinator would have: HOME, the stubs first on PATH.
    const environment = `export HOME='${home}' STUB_DIR='${stubDir}' PATH='${bin}:/usr/bin:/bin'\n`;
    const scripts = {
      sudo: SUDO,
      psql: PSQL,
      postgres: POSTGRES,
      pg_isready: PG_ISREADY,
      gprecoverseg: GPRECOVERSEG,
      gpstate: GPSTATE,
      pg_ctl: PG_CTL,
      gpactivatestandby: STANDBY_TOOL,
      gpinitstandby: STANDBY_TOOL,
      // `ssh [options] -- HOST COMMAND`: records the options and host, runs COMMAND here, or
      // fails as ssh does (255) when HOST is one of $STUB_DIR/dead-hosts.
      ssh: `#!/bin/bash\n${environment}printf '%s\\n' "$*" >> "$STUB_DIR/ssh.calls"\nwhile [ "$1" != -- ]; do shift; done\nif grep -qx "$2" "$STUB_DIR/dead-hosts" 2>/dev/null; then echo "ssh: connect to host $2 port 22: Connection timed out" >&2; exit 255; fi\nshift 2\nexec bash -c "$*"\n`,
      // `--transport local`'s shell, with the coordinator's environment.
      'local-bash': `#!/bin/bash\n${environment}exec bash "$@"\n`,
    };
    for (const [name, text] of Object.entries(scripts)) {
      await writeFile(join(bin, name), text);
      await chmod(join(bin, name), 0o755);
    }
    await writeFile(join(gphome, environmentScript), `export PATH="${bin}:$PATH"\n`);
    const stub = new CoordinatorStub(root, gphome, home, stubDir, cdd);
    await stub.answerVersion((await readCapture('01a_postgres_gp_version.txt')).body);
    return stub;
  }

  async dispose(): Promise<void> {
    // A background run may still be writing its last files.
    await rm(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }

  /**
   * Runs the text as AWS-RunShellScript would: `sh -c`, so POSIX sh (dash here), as root (here
   * the test user), sudo stubbed.
   */
  run(commandText: string): Promise<RunResult> {
    return new Promise((resolve) => {
      execFile(
        'sh',
        ['-c', commandText],
        {
          cwd: this.root,
          env: { PATH: `${this.bin}:/usr/bin:/bin`, HOME: this.home, STUB_DIR: this.stubDir },
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
    return decodeOutput('stub', result.stdout);
  }

  answerVersion(text: string): Promise<void> {
    return writeFile(join(this.stubDir, 'postgres-version'), text);
  }

  /** psql's answer to one kind of query: its rows, one per line. */
  answerSql(key: string, rows: string): Promise<void> {
    return writeFile(
      join(this.stubDir, 'psql', key),
      rows === '' || rows.endsWith('\n') ? rows : `${rows}\n`,
    );
  }

  failSql(key: string, stderr: string): Promise<void> {
    return writeFile(join(this.stubDir, 'psql', `${key}.error`), stderr);
  }

  /** Ports where nothing listens: pg_isready answers "no response", exit 2 (capture 102). */
  deadPorts(ports: readonly number[]): Promise<void> {
    return writeFile(join(this.stubDir, 'dead-ports'), ports.map((port) => `${port}\n`).join(''));
  }

  /** Ports of segments still mirrors: pg_isready answers "mirror ready", exit 64 (capture 103). */
  mirrorReadyPorts(ports: readonly number[]): Promise<void> {
    return writeFile(
      join(this.stubDir, 'mirror-ready-ports'),
      ports.map((port) => `${port}\n`).join(''),
    );
  }

  /** The n-th gprecoverseg call prints a capture and exits with its status. */
  async gprecoversegRun(n: number, capture: Capture, preview?: string): Promise<void> {
    await writeFile(join(this.stubDir, 'gprecoverseg', `${n}.log`), capture.body);
    await writeFile(join(this.stubDir, 'gprecoverseg', `${n}.exit`), String(capture.exitStatus));
    if (preview !== undefined)
      await writeFile(join(this.stubDir, 'gprecoverseg', `${n}.preview`), preview);
  }

  async gpstateAnswer(flag: '-m' | '-e', capture: Capture): Promise<void> {
    await writeFile(join(this.stubDir, `gpstate${flag}.txt`), capture.body);
    await writeFile(join(this.stubDir, `gpstate${flag}.exit`), String(capture.exitStatus));
  }

  /** gpactivatestandby or gpinitstandby prints a capture and exits with its status. */
  async standbyToolAnswer(
    tool: 'gpactivatestandby' | 'gpinitstandby',
    capture: Capture,
  ): Promise<void> {
    await writeFile(join(this.stubDir, `${tool}.txt`), capture.body);
    await writeFile(join(this.stubDir, `${tool}.exit`), String(capture.exitStatus));
  }

  /** Hosts ssh cannot reach: it fails with 255, as for a stopped machine. */
  deadHosts(hosts: readonly string[]): Promise<void> {
    return writeFile(join(this.stubDir, 'dead-hosts'), hosts.map((host) => `${host}\n`).join(''));
  }

  /** Whether pg_ctl status finds a postmaster. */
  postmasterRunning(running: boolean): Promise<void> {
    return running
      ? writeFile(join(this.stubDir, 'postmaster-running'), '')
      : rm(join(this.stubDir, 'postmaster-running'), { force: true });
  }

  hold(): Promise<void> {
    return writeFile(join(this.stubDir, 'hold'), '');
  }

  release(): Promise<void> {
    return rm(join(this.stubDir, 'hold'), { force: true });
  }

  async calls(program: StubProgram): Promise<string[]> {
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
    for (let attempt = 0; attempt < 400; attempt++) {
      const exit = await this.stateFile(operationId, 'exit').catch(() => undefined);
      if (exit !== undefined) return exit.trim();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${operationId} never exited`);
  }
}
