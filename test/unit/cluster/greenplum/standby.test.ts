import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MalformedOutput } from '#cluster/greenplum/errors.ts';
import {
  ActiveCoordinatorProcess,
  OLD_COORDINATOR_CONNECT_SECONDS,
  StandbyCommandFailed,
  activateScript,
  fenceScript,
  parseActivation,
  parseFence,
  parsePgIsReady,
  parseStandbyInitialization,
  parseStandbyReplication,
  postmasterAnswer,
  probeScript,
} from '#cluster/greenplum/standby.ts';
import { GREENPLUM_6, GREENPLUM_7 } from '#cluster/greenplum/versions.ts';
import { outputLines, readCapture } from './captures.ts';

const lines = async (name: string) => outputLines((await readCapture(name)).body.trimEnd());

describe("the standby's walsender on the coordinator (pg_stat_replication, psql -x)", () => {
  it('reads capture 114: streaming, in sync, with its WAL locations', async () => {
    expect(
      parseStandbyReplication(
        'pg_stat_replication',
        await lines('114_pg_stat_replication_coordinator.txt'),
        GREENPLUM_6,
      ),
    ).toEqual({
      state: 'streaming',
      syncState: 'sync',
      sentLocation: '0/C000000',
      flushLocation: '0/C000000',
      replayLocation: '0/C000000',
    });
  });

  it('reads capture 153 (the standby killed): no walsender, absent', async () => {
    expect(
      parseStandbyReplication(
        'pg_stat_replication',
        await lines('153_pg_stat_replication_standby_dead.txt'),
        GREENPLUM_6,
      ),
    ).toEqual({ state: 'absent' });
  });

  it('reads 7.x column names from its version table, and ignores other walsenders', () => {
    const text = [
      '-[ RECORD 1 ]----+------',
      'application_name | pg_basebackup',
      'state            | backup',
      '-[ RECORD 2 ]----+------',
      'application_name | gp_walreceiver',
      'state            | catchup',
      'sync_state       | async',
      'sent_lsn         | 0/14000000',
      'flush_lsn        | 0/13000000',
      'replay_lsn       | 0/12000000',
    ].join('\n');
    expect(parseStandbyReplication('pg_stat_replication', outputLines(text), GREENPLUM_7)).toEqual({
      state: 'catchup',
      syncState: 'async',
      sentLocation: '0/14000000',
      flushLocation: '0/13000000',
      replayLocation: '0/12000000',
    });
  });

  it.each([
    ['a state no walsender has', 'application_name | gp_walreceiver\nstate | dancing', /state/],
    [
      'a line that is no record line',
      '-[ RECORD 1 ]--+--\nnonsense',
      /expected a psql -x record line/,
    ],
    [
      'a hostile location',
      'application_name | gp_walreceiver\nstate | streaming\nsent_location | 0/1; rm -rf /',
      /sentLocation/,
    ],
  ])('refuses %s', (_what, text, message) => {
    const record = text.startsWith('-[') ? text : `-[ RECORD 1 ]--+--\n${text}`;
    expect(() =>
      parseStandbyReplication('pg_stat_replication', outputLines(record), GREENPLUM_6),
    ).toThrow(MalformedOutput);
    expect(() =>
      parseStandbyReplication('pg_stat_replication', outputLines(record), GREENPLUM_6),
    ).toThrow(message);
  });
});

describe('gpactivatestandby', () => {
  it.each(['128_gpactivatestandby_after_cleanup.txt', '140_gpactivatestandby_failback.txt'])(
    'reads %s as completed',
    async (name) => {
      const { body, exitStatus } = await readCapture(name);
      expect(() =>
        parseActivation('gpactivatestandby', body, exitStatus, GREENPLUM_6),
      ).not.toThrow();
    },
  );

  it.each([
    ['125_gpactivatestandby.txt', 'mdw port=5432'],
    ['138_gpactivatestandby_failback_stale_socket.txt', 'smdw port=5433'],
  ])('reads %s as refused on the stale socket lock (exit 2)', async (name, where) => {
    const { body, exitStatus } = await readCapture(name);
    const read = () => parseActivation('gpactivatestandby', body, exitStatus, GREENPLUM_6);
    expect(read).toThrow(ActiveCoordinatorProcess);
    expect(read).toThrow(`Appears that there is an active postgres process on ${where} (exit 2)`);
  });

  it("a 6.x success is not 7.x's: the version table's line decides", async () => {
    const { body } = await readCapture('128_gpactivatestandby_after_cleanup.txt');
    expect(() => parseActivation('gpactivatestandby', body, 0, GREENPLUM_7)).toThrow(
      StandbyCommandFailed,
    );
  });

  it("sets the release's data directory variable and the standby's port", () => {
    const script = activateScript(GREENPLUM_7, {
      datadir: '/data1/standby/gpseg-1',
      port: 5433,
    }).join('\n');
    expect(script).toContain("export COORDINATOR_DATA_DIRECTORY='/data1/standby/gpseg-1'");
    expect(script).toContain("export PGPORT='5433'");
    expect(script).toContain("gpactivatestandby -a -d '/data1/standby/gpseg-1'");
    expect(activateScript(GREENPLUM_6, { datadir: '/d/gpseg-1', port: 5432 }).join('\n')).toContain(
      "export MASTER_DATA_DIRECTORY='/d/gpseg-1'",
    );
  });
});

describe('gpinitstandby', () => {
  it.each([
    '111_gpinitstandby.txt',
    '135_gpinitstandby_old_host_as_standby.txt',
    '142_gpinitstandby_smdw_again.txt',
  ])('reads %s as created', async (name) => {
    const { body, exitStatus } = await readCapture(name);
    expect(() =>
      parseStandbyInitialization('gpinitstandby', body, exitStatus, GREENPLUM_6),
    ).not.toThrow();
  });

  it('reads capture 134 as refused, in its own words', async () => {
    const { body, exitStatus } = await readCapture('134_gpinitstandby_old_dir_exists.txt');
    expect(() =>
      parseStandbyInitialization('gpinitstandby', body, exitStatus, GREENPLUM_6),
    ).toThrow(
      'gpinitstandby: exit 2: Data directory already exists on host mdw; Failed to create standby; Error initializing standby master: master data directory exists',
    );
  });
});

describe('the fence on the old coordinator host', () => {
  it.each(['127_remove_stale_socket_files.txt', '139_remove_stale_socket_files_5433.txt'])(
    "reads rm -fv's answer of %s",
    async (name) => {
      const removed = await lines(name);
      const answer = parseFence('fence', outputLines('not-running'), removed);
      expect(answer.stopped).toBe(false);
      expect(answer.removed).toHaveLength(2);
      expect(answer.removed[1]).toMatch(/^\/tmp\/\.s\.PGSQL\.543[23]\.lock$/);
    },
  );

  /** The fence script's lines in bash, with pg_ctl stubbed and /tmp's files in a directory. */
  async function runFence(lockPid: string | undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'recoverseg-fence-'));
    try {
      await writeFile(join(dir, 'pg_ctl'), '#!/bin/sh\n[ "$1" = status ] && exit 3\nexit 0\n', {
        mode: 0o755,
      });
      const script = fenceScript({ datadir: '/data1/master/gpseg-1', port: 5432 }, dir).join('\n');
      const files = [join(dir, '.s.PGSQL.5432'), join(dir, '.s.PGSQL.5432.lock')];
      if (lockPid !== undefined) {
        await writeFile(files[0]!, '');
        await writeFile(files[1]!, `${lockPid}\n/data1/master/gpseg-1\n`);
      }
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(
          'bash',
          ['-c', script],
          { env: { PATH: `${dir}:/usr/bin:/bin` } },
          (error, out, err) => (error ? reject(new Error(err)) : resolve(out)),
        ),
      );
      const [, fence = '', removed = ''] = stdout.split(/@@recoverseg:section \w+@@\n/);
      return parseFence('fence', outputLines(fence.trimEnd()), outputLines(removed.trimEnd()));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('removes the socket files a dead postmaster left (its lock PID runs no more)', async () => {
    const answer = await runFence('999999');
    expect(answer.removed).toHaveLength(2);
  });

  it('never removes a lock whose PID still runs', async () => {
    await expect(runFence(String(process.pid))).rejects.toThrow(ActiveCoordinatorProcess);
  });

  it('removes nothing when nothing was left', async () => {
    expect(await runFence(undefined)).toEqual({ stopped: false, removed: [] });
  });
});

describe('pg_isready on the coordinator and the standby', () => {
  it.each([
    [
      '116_pg_isready_standby.txt',
      [
        { target: 'smdw:5433', answer: 'mirror-ready' },
        { target: 'mdw:5432', answer: 'accepting' },
      ],
    ],
    [
      '121_pg_isready_after_coordinator_kill.txt',
      [
        { target: 'mdw:5432', answer: 'no-response' },
        { target: 'smdw:5433', answer: 'mirror-ready' },
      ],
    ],
  ])('reads %s', async (name, replies) => {
    expect(parsePgIsReady('pg_isready', await lines(name))).toEqual(replies);
  });

  it('reads "no attempt" (exit 3), which prints no host line', () => {
    expect(postmasterAnswer('pg_isready', outputLines('rc=3'))).toBe('no-attempt');
  });

  it.each([
    [
      'words that do not match the exit status',
      'mdw:5432 - accepting connections\nrc=2',
      /says "accepting connections" but exited 2/,
    ],
    [
      'an exit status pg_isready never uses',
      'mdw:5432 - unknown\nrc=7',
      /expected a pg_isready exit status/,
    ],
    ['an answer with no exit status', 'mdw:5432 - no response', /expected rc=N after pg_isready/],
    ['a line that is neither', 'psql: could not connect', /expected pg_isready's host:port line/],
    ['nothing at all', '', /expected rc=N/],
    ['two answers where one is asked', 'rc=3\nrc=3', /expected one pg_isready answer/],
  ])('refuses %s', (_what, text, message) => {
    const read = () => postmasterAnswer('pg_isready', outputLines(text));
    expect(read).toThrow(MalformedOutput);
    expect(read).toThrow(message);
  });

  it('asks each at its catalog address and port, quoted', () => {
    const script = probeScript(
      { address: 'mdw', port: 5432 },
      { address: "smdw'; reboot; '", port: 5433 },
    ).join('\n');
    expect(script).toContain("pg_isready -h 'mdw' -p '5432' -t 5");
    expect(script).toContain(`pg_isready -h 'smdw'\\''; reboot; '\\''' -p '5433' -t 5`);
  });
});

describe("gpactivatestandby's ssh to the old coordinator's host", () => {
  it("goes through the bounded ssh: a connect timeout, no prompt, given before gppylib's options", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recoverseg-activate-'));
    try {
      // gppylib's ReadPostmasterTempFile.remote, as 6.24.3 runs it (capture 125's debug line).
      await writeFile(
        join(dir, 'gpactivatestandby'),
        '#!/bin/sh\nssh -o StrictHostKeyChecking=no -o ServerAliveInterval=60 mdw "cat /tmp/.s.PGSQL.5432.lock"\necho "ssh exited $?"\n',
        { mode: 0o755 },
      );
      await writeFile(join(dir, 'ssh'), '#!/bin/sh\necho "ssh $*"\nexit 255\n', { mode: 0o755 });
      const script = activateScript(GREENPLUM_6, { datadir: '/data1/standby/gpseg-1', port: 5433 });
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(
          'bash',
          ['-c', ['set -eo pipefail', ...script].join('\n')],
          { env: { PATH: `${dir}:/usr/bin:/bin`, RECOVERSEG_STATE_DIR: join(dir, 'state') } },
          (error, out, err) => (error ? reject(new Error(err)) : resolve(out)),
        ),
      );
      expect(stdout).toContain(
        `ssh -o ConnectTimeout=${OLD_COORDINATOR_CONNECT_SECONDS} -o BatchMode=yes -o ServerAliveInterval=10 -o ServerAliveCountMax=3 -o StrictHostKeyChecking=no -o ServerAliveInterval=60 mdw cat /tmp/.s.PGSQL.5432.lock\nssh exited 255\n`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
