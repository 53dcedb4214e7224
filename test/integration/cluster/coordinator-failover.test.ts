import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { randomInt } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SegmentRow } from '#domain/segment.ts';
import { HostUnreachable } from '#cluster/greenplum/errors.ts';
import { GreenplumClusterOperations } from '#cluster/greenplum/greenplum-cluster-operations.ts';
import { ActiveCoordinatorProcess, StandbyCommandFailed } from '#cluster/greenplum/standby.ts';
import {
  sameShell,
  sshToEachHost,
  ssmToEachHost,
  type HostTransports,
} from '#cluster/transport/hosts.ts';
import { LocalTransport } from '#cluster/transport/local.ts';
import { catalogCapture, readCapture } from '#test/unit/cluster/greenplum/captures.ts';
import { CoordinatorStub, type RunResult } from '#test/unit/cluster/greenplum/coordinator-stub.ts';
import { mockSsmAndS3 } from '#test/unit/cluster/ssm/mocks.ts';

/**
 * The coordinator's failover over each transport, against the stub coordinator: each script
 * must reach the host of the row it names, and the stubbed tools answer with what real
 * Greenplum 6.24.3 printed (captures 121, 125-128, 134, 135).
 */
const { ssm: ssmMock } = mockSsmAndS3();

const INSTANCES = { mdw: 'i-0aaaaaaaaaaaaaaa1', smdw: 'i-0bbbbbbbbbbbbbbb2' };

/** SSM with one instance per host, each running the text in `sh -c` here; `dead` never picks up. */
function ssmHosts(stub: CoordinatorStub, dead: readonly string[]): HostTransports {
  const runs = new Map<string, Promise<RunResult> | undefined>();
  ssmMock.on(SendCommandCommand).callsFake(async (input: SendCommandCommandInput) => {
    const commandId = `cmd-${runs.size + 1}`;
    const instance = input.InstanceIds![0]!;
    const text = input.Parameters!.commands![0]!;
    runs.set(commandId, dead.includes(instance) ? undefined : stub.run(text));
    await writeFile(join(stub.stubDir, 'ssm.calls'), `${instance}\n`, { flag: 'a' });
    return { Command: { CommandId: commandId } };
  });
  ssmMock
    .on(GetCommandInvocationCommand)
    .callsFake(async ({ CommandId }: { CommandId: string }) => {
      const run = runs.get(CommandId);
      if (!run) return { Status: 'Pending' };
      const result = await run;
      return result.code === 0
        ? { Status: 'Success', ResponseCode: 0, StandardOutputContent: result.stdout }
        : { Status: 'Failed', ResponseCode: result.code, StandardErrorContent: result.stderr };
    });
  return ssmToEachHost(
    {
      ssm: new SSMClient({ region: 'eu-west-1' }),
      // No real wait: each poll counts a second, and a live host's answer comes on the first.
      pollIntervalMs: 1000,
      timeoutMs: 1000,
      sleep: async () => {},
    },
    INSTANCES,
  );
}

/** Which host each script reached, as the transport addressed it. */
async function reached(name: string, stub: CoordinatorStub): Promise<string[]> {
  if (name === 'local') return [];
  if (name === 'ssh')
    return (await stub.calls('ssh')).map((line) => /-- (\S+) bash -s$/.exec(line)![1]!);
  const text = await readFile(join(stub.stubDir, 'ssm.calls'), 'utf8');
  const hostOf = new Map(Object.entries(INSTANCES).map(([host, id]) => [id, host]));
  return text
    .trim()
    .split('\n')
    .map((id) => hostOf.get(id)!);
}

const TRANSPORTS: [string, (stub: CoordinatorStub, dead: string[]) => HostTransports][] = [
  ['local', (stub) => sameShell(new LocalTransport({ program: join(stub.bin, 'local-bash') }))],
  ['ssh', (stub) => sshToEachHost({ program: join(stub.bin, 'ssh') })],
  ['ssm', ssmHosts],
];

let coordinator: SegmentRow;
let standby: SegmentRow;
let stub: CoordinatorStub;

beforeAll(async () => {
  // The cluster with its standby (capture 113): dbid 1 on mdw:5432, dbid 10 on smdw:5433.
  const rows = await catalogCapture('113_config_with_standby.txt');
  coordinator = rows.find((row) => row.content === -1 && row.role === 'p')!;
  standby = rows.find((row) => row.content === -1 && row.role === 'm')!;
});
beforeEach(async () => {
  stub = await CoordinatorStub.create();
});
afterEach(() => stub.dispose());

describe.each(TRANSPORTS)('the coordinator failover over %s', (name, hostsFor) => {
  const failover = (dead: string[] = []) => {
    const hosts = hostsFor(stub, dead);
    return new GreenplumClusterOperations({
      transport: hosts('mdw'),
      settings: stub.settings,
      hosts,
    }).coordinator!;
  };

  it("probes from the standby's host: coordinator no response (2), standby mirror ready (64), as capture 121", async () => {
    await stub.deadPorts([5432]);
    await stub.mirrorReadyPorts([5433]);
    expect(await failover().probe(coordinator, standby)).toEqual({
      coordinator: 'no-response',
      standby: 'mirror-ready',
    });
    expect(await stub.calls('pg_isready')).toEqual(['mdw:5432', 'smdw:5433']);
    expect(new Set(await reached(name, stub))).toEqual(new Set(name === 'local' ? [] : ['smdw']));
  });

  it("fences the old coordinator on its host: stops its postmaster, removes a dead one's socket files (126, 127)", async () => {
    // A port of its own: the fence looks in the real /tmp.
    const old = { ...coordinator, port: randomInt(20_000, 60_000) };
    const files = [`/tmp/.s.PGSQL.${old.port}`, `/tmp/.s.PGSQL.${old.port}.lock`];
    await writeFile(files[0]!, '');
    await writeFile(files[1]!, `999999\n${old.datadir}\n`);
    try {
      await stub.postmasterRunning(true);
      expect(await failover().fence(old)).toEqual({ stopped: true, removed: files });
      expect(await stub.calls('pg_ctl')).toEqual([
        `status -D ${old.datadir}`,
        `stop -D ${old.datadir} -m immediate -w`,
      ]);
      expect(new Set(await reached(name, stub))).toEqual(new Set(name === 'local' ? [] : ['mdw']));
    } finally {
      await Promise.all(files.map((file) => rm(file, { force: true })));
    }
  });

  it('activates the standby on its host with its port and data directory (128), and names a refusal (125)', async () => {
    await stub.standbyToolAnswer(
      'gpactivatestandby',
      await readCapture('128_gpactivatestandby_after_cleanup.txt'),
    );
    await failover().activate(standby);
    const [args, port, dataDirectory, ssh] = (await stub.calls('gpactivatestandby'))[0]!.split('|');
    expect([args, port, dataDirectory]).toEqual([
      `-a -d ${standby.datadir}`,
      '5433',
      standby.datadir,
    ]);
    // Its ssh to the old coordinator's host is the bounded one.
    expect(ssh).toMatch(/\/gpAdminLogs\/recoverseg\/bin\/ssh$/);
    expect(new Set(await reached(name, stub))).toEqual(new Set(name === 'local' ? [] : ['smdw']));

    await stub.standbyToolAnswer(
      'gpactivatestandby',
      await readCapture('125_gpactivatestandby.txt'),
    );
    await expect(failover().activate(standby)).rejects.toThrow(ActiveCoordinatorProcess);
  });

  it("runs gpinitstandby on the coordinator's host for the new standby (135), and names a refusal (134)", async () => {
    // After the activation (capture 129) the coordinator is dbid 10 on smdw; the old host
    // becomes the standby.
    const activated = { ...standby, role: 'p' as const, preferred_role: 'p' as const };
    const location = { hostname: 'mdw', address: 'mdw', port: 5432, datadir: coordinator.datadir };
    await stub.standbyToolAnswer(
      'gpinitstandby',
      await readCapture('135_gpinitstandby_old_host_as_standby.txt'),
    );
    await failover().initializeStandby(activated, location);
    expect((await stub.calls('gpinitstandby'))[0]!.split('|').slice(0, 3)).toEqual([
      `-a -s mdw -P 5432 -S ${coordinator.datadir}`,
      '5433',
      standby.datadir,
    ]);
    expect(new Set(await reached(name, stub))).toEqual(new Set(name === 'local' ? [] : ['smdw']));

    await stub.standbyToolAnswer(
      'gpinitstandby',
      await readCapture('134_gpinitstandby_old_dir_exists.txt'),
    );
    await expect(failover().initializeStandby(activated, location)).rejects.toThrow(
      StandbyCommandFailed,
    );
  });

  it('refuses a standby location no host name or data directory could be, before anything runs', async () => {
    const location = { hostname: 'mdw; reboot', address: 'mdw', port: 5432, datadir: '/d' };
    await expect(failover().initializeStandby(standby, location)).rejects.toThrow(
      /^location\.hostname: /,
    );
    expect(await stub.calls('gpinitstandby')).toEqual([]);
  });

  it('says whether a host runs a script at all', async () => {
    expect(await failover().hostAnswers(coordinator)).toBe(true);
    expect(await reached(name, stub)).toEqual(name === 'local' ? [] : ['mdw']);
  });

  if (name !== 'local')
    it('names the host that does not answer, and says it does not (no fence over the transport)', async () => {
      await stub.deadHosts(['mdw', 'smdw']);
      const ops = failover([INSTANCES.mdw, INSTANCES.smdw]);
      const probe = ops.probe(coordinator, standby);
      await expect(probe).rejects.toThrow(HostUnreachable);
      await expect(probe).rejects.toMatchObject({ hosts: ['smdw'] });
      expect(await ops.hostAnswers(coordinator)).toBe(false);
    });
});
