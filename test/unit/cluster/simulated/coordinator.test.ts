import { describe, expect, it } from 'vitest';
import { HostUnreachable } from '#cluster/greenplum/errors.ts';
import { ActiveCoordinatorProcess, StandbyCommandFailed } from '#cluster/greenplum/standby.ts';
import {
  activate,
  fence,
  initializeStandby,
  probeCoordinator,
  readStandbyReplication,
} from '#cluster/simulated/coordinator.ts';
import { CoordinatorNotAnswering, UnsupportedFault } from '#cluster/simulated/errors.ts';
import {
  crashSegment,
  failHost,
  lagStandby,
  loseDataDirectory,
  restoreHost,
} from '#cluster/simulated/faults.ts';
import { probeInPlace } from '#cluster/simulated/fts.ts';
import { clone, type SimulatedClusterState } from '#cluster/simulated/model.ts';
import type { SimulationOptionsInput } from '#cluster/simulated/options.ts';
import { pollOperation, startRebalance, startRecovery } from '#cluster/simulated/operations.ts';
import { readConfiguration, readReplication } from '#cluster/simulated/reads.ts';
import { probe } from '#cluster/simulated/timeline.ts';
import { ValidationError } from '#domain/errors.ts';
import { sortRows } from '#domain/segment.ts';
import { readCapture } from '../greenplum/captures.ts';
import { expectValid, planFor } from './helpers.ts';

import {
  afterActivation,
  afterFailback,
  cluster,
  coordinator,
  row,
  standby,
  withStandby,
} from './standby-cluster.ts';

/* The coordinator and its standby, against the captures of a real GP 6.24.3 (110-155). */

const rows = (state: SimulatedClusterState, at = state.now) =>
  readConfiguration(state, at).segments;
/** Every read and start the workflow makes on the coordinator. */
const coordinatorCalls = (state: SimulatedClusterState, at: number) => [
  () => readConfiguration(state, at),
  () => readReplication(state, at),
  () => readStandbyReplication(state, at),
  () => probe(state, at),
  () => startRecovery(state, at, [], 'k'),
  () => startRebalance(state, at, { replayLagGb: 1 }, 'r'),
];

describe("the standby's replication (pg_stat_replication on the coordinator)", () => {
  it('streams in sync at the WAL location capture 114 shows while the standby lives', async () => {
    const capture = (await readCapture('114_pg_stat_replication_coordinator.txt')).body;
    const column = (name: string) => new RegExp(`^${name}\\s+\\| (\\S+)$`, 'm').exec(capture)![1];
    expect(readStandbyReplication(cluster(), 0)).toEqual({
      state: column('state'),
      syncState: column('sync_state'),
      sentLocation: column('sent_location'),
      flushLocation: column('flush_location'),
      replayLocation: column('replay_location'),
    });
  });

  it('has no walsender once the standby is killed, while the catalog keeps it u/s (captures 151, 153)', () => {
    const state = probe(crashSegment(cluster(), 100, 10), 200);
    expect(readStandbyReplication(state, 200)).toEqual({ state: 'absent' });
    expect(rows(state)).toEqual(sortRows(withStandby));
  });

  it('has none while the standby host is down, and probing from that host is HostUnreachable', () => {
    const state = failHost(cluster({ hostRestartSeconds: null }), 100, 'smdw');
    expect(readStandbyReplication(state, 100)).toEqual({ state: 'absent' });
    expect(() => probeCoordinator(state, 100, coordinator, standby)).toThrow(HostUnreachable);
  });

  it('catches up (potential) after a standby-lag fault, and stays behind whatever the time scale', () => {
    const mib = 1_048_576;
    let state = lagStandby(cluster({ timeScale: 0 }), 1000, 10, 3 * mib);
    state = lagStandby(state, 2000, 10, mib);
    const behind = {
      state: 'catchup',
      syncState: 'potential',
      sentLocation: '0/C400000',
      flushLocation: '0/C000000',
      replayLocation: '0/C000000',
    };
    expect(readStandbyReplication(state, 2000)).toEqual(behind);
    expect(readStandbyReplication(state, 3_600_000)).toEqual(behind);
  });

  it('loses what the lagging standby lacked when it is activated: the new coordinator goes on from its flush location', () => {
    let state = lagStandby(cluster(), 0, 10, 1024);
    state = activate(fence(state, 100, coordinator).state, 200, standby);
    const place = { ...coordinator, datadir: '/data1/gpdb/master2/gpseg-1' };
    state = initializeStandby(
      state,
      300,
      rows(state).find((r) => r.dbid === 10)!,
      place,
    );
    expect(readStandbyReplication(state, 300)).toMatchObject({
      state: 'streaming',
      sentLocation: '0/C000000',
    });
  });

  it('refuses a standby-lag fault on anything but the standby', () => {
    expect(() => lagStandby(cluster(), 0, 1, 100)).toThrow(UnsupportedFault);
    expect(() => lagStandby(cluster(), 0, 6, 100)).toThrow(/not the standby coordinator/);
  });
});

describe('the coordinator killed (capture 120): its host answers, its postmaster does not', () => {
  const killed = () => crashSegment(cluster(), 100, 1);

  it('fails every read and start with CoordinatorNotAnswering (capture 122)', () => {
    for (const call of coordinatorCalls(killed(), 200))
      expect(call).toThrow(CoordinatorNotAnswering);
    expect(() => readConfiguration(killed(), 200)).toThrow(
      /dbid 1, mdw:5432\) does not answer: psql: could not connect to server: Connection refused/,
    );
  });

  it('answers pg_isready: coordinator no response, standby mirror ready (capture 121)', () => {
    expect(probeCoordinator(cluster(), 0, coordinator, standby)).toEqual({
      coordinator: 'accepting',
      standby: 'mirror-ready',
    });
    expect(probeCoordinator(killed(), 200, coordinator, standby)).toEqual({
      coordinator: 'no-response',
      standby: 'mirror-ready',
    });
  });

  it('stops FTS: a mirror killed meanwhile is not marked down', () => {
    const state = clone(crashSegment(killed(), 150, 6));
    probeInPlace(state, 200);
    expect(state.catalog).toEqual(withStandby);
  });

  it('leaves its socket lock: activation is refused (125), the fence removes it (127), then activation gives capture 129', async () => {
    let state = killed();
    expect(() => activate(state, 200, standby)).toThrow(ActiveCoordinatorProcess);
    expect(() => activate(state, 200, standby)).toThrow(/active postgres process on mdw port=5432/);
    const fenced = fence(state, 300, coordinator);
    const removedByHand = (await readCapture('127_remove_stale_socket_files.txt')).body
      .split('\n')
      .flatMap((line) => /^removed '(.*)'$/.exec(line)?.[1] ?? []);
    expect(fenced.handle).toEqual({ stopped: false, removed: removedByHand });
    state = activate(fenced.state, 400, standby);
    expect(rows(state)).toEqual(sortRows(afterActivation));
    expect(fence(state, 500, coordinator).handle).toEqual({ stopped: false, removed: [] });
  });
});

describe('the fence', () => {
  it('stops a running coordinator (pg_ctl stop -m immediate, which takes its lock along)', () => {
    const { state, handle } = fence(cluster(), 100, coordinator);
    expect(handle).toEqual({ stopped: true, removed: [] });
    expect(() => readConfiguration(state, 100)).toThrow(CoordinatorNotAnswering);
    expect(rows(activate(state, 200, standby))).toEqual(sortRows(afterActivation));
  });

  it('is HostUnreachable when the coordinator host does not answer', () => {
    const down = failHost(cluster({ hostRestartSeconds: null }), 100, 'mdw');
    expect(() => fence(down, 200, coordinator)).toThrow(HostUnreachable);
  });
});

describe('the coordinator host lost: it does not answer at all', () => {
  const lost = () => failHost(cluster({ hostRestartSeconds: null }), 100, 'mdw');

  it('fails every read and start with HostUnreachable naming the host', () => {
    for (const call of coordinatorCalls(lost(), 200)) expect(call).toThrow(HostUnreachable);
    expect(() => readConfiguration(lost(), 200)).toThrow(/mdw unreachable/);
  });

  it('lets gpactivatestandby go on, as it cannot read the lock there; the old coordinator never comes back', () => {
    let state = activate(lost(), 200, standby);
    expect(rows(state)).toEqual(sortRows(afterActivation));
    state = restoreHost(state, 300, 'mdw');
    expect(rows(state)).toEqual(sortRows(afterActivation));
    expect(probeCoordinator(state, 300, coordinator, row(10))).toEqual({
      coordinator: 'no-response',
      standby: 'accepting',
    });
  });
});

describe('after the activation, under the new coordinator', () => {
  const activated = () => activate(fence(cluster(), 100, coordinator).state, 200, standby);

  it('segments keep working: FTS marks a killed mirror down, gprecoverseg recovers it', () => {
    let state = probe(crashSegment(activated(), 300, 6), 400);
    expect(rows(state).find((r) => r.dbid === 6)).toMatchObject({ status: 'd' });
    const started = startRecovery(state, 500, planFor(state), 'recover-6');
    state = started.state;
    expect(pollOperation(state, 600_000, started.handle.operationId)).toMatchObject({
      done: true,
      recovered: [6],
    });
    expectValid(state);
  });

  it('has no standby: no walsender, and a second activation is refused', () => {
    const state = activated();
    expect(readStandbyReplication(state, 300)).toEqual({ state: 'absent' });
    expect(() => activate(state, 300, standby)).toThrow(StandbyCommandFailed);
    expect(() => activate(state, 300, standby)).toThrow(/recovery\.conf" is not present/);
  });

  it('refuses to activate a standby whose postmaster is not running', () => {
    const state = crashSegment(fence(cluster(), 100, coordinator).state, 150, 10);
    expect(() => activate(state, 200, standby)).toThrow(/Standby postmaster is not running/);
  });
});

describe('gpinitstandby', () => {
  const activated = (options: SimulationOptionsInput = {}) =>
    activate(fence(cluster(options), 100, coordinator).state, 200, standby);
  const newCoordinator = { ...standby, role: 'p', preferred_role: 'p', mode: 's' } as const;
  const oldPlace = {
    hostname: coordinator.hostname,
    address: coordinator.address,
    port: coordinator.port,
    datadir: coordinator.datadir,
  };

  it("refuses the old coordinator's data directory on its old host (capture 134)", () => {
    const state = activated();
    expect(() => initializeStandby(state, 300, newCoordinator, oldPlace)).toThrow(
      StandbyCommandFailed,
    );
    expect(() => initializeStandby(state, 300, newCoordinator, oldPlace)).toThrow(
      /Data directory already exists on host mdw.*master data directory exists/,
    );
  });

  it('adds a standby with the next dbid (captures 135, 141), in sync; the failback then makes it the coordinator', () => {
    const place = { ...oldPlace, datadir: '/data1/gpdb/master2/gpseg-1' };
    let state = initializeStandby(activated(), 300, newCoordinator, place);
    expect(rows(state).filter((r) => r.content === -1)).toEqual([
      newCoordinator,
      { dbid: 11, content: -1, role: 'm', preferred_role: 'm', mode: 's', status: 'u', ...place },
    ]);
    expect(readStandbyReplication(state, 300)).toMatchObject({
      state: 'streaming',
      syncState: 'sync',
    });
    const replaced = { ...rows(state).find((r) => r.dbid === 11)! };
    state = fence(crashSegment(state, 400, 10), 500, newCoordinator).state;
    state = activate(state, 600, replaced);
    expect(rows(state)).toEqual(
      sortRows(afterFailback.map((r) => (r.dbid === 11 ? { ...r, datadir: place.datadir } : r))),
    );
  });

  it('refuses while a standby exists, on a host that is down, from a row that is not the coordinator, and a malformed location', () => {
    const state = activated();
    const place = { ...oldPlace, datadir: '/data1/gpdb/master2/gpseg-1' };
    expect(() => initializeStandby(cluster(), 0, coordinator, place)).toThrow(
      /Standby master already configured \(dbid 10 on smdw\)/,
    );
    const down = failHost(activated({ hostRestartSeconds: null }), 300, 'sdw1');
    expect(() =>
      initializeStandby(down, 300, newCoordinator, {
        ...place,
        hostname: 'sdw1',
        address: 'sdw1',
      }),
    ).toThrow(HostUnreachable);
    expect(() => initializeStandby(state, 300, coordinator, place)).toThrow(
      CoordinatorNotAnswering,
    );
    for (const bad of [
      { ...place, port: 70000 },
      { ...place, hostname: '; rm -rf /' },
      { ...place, datadir: '' },
      { hostname: 'mdw' },
    ])
      expect(() => initializeStandby(state, 300, newCoordinator, bad as typeof place)).toThrow(
        ValidationError,
      );
  });
});

describe('coordinator faults', () => {
  it("refuses to lose a coordinator's data directory: crash it or fail its host", () => {
    expect(() => loseDataDirectory(cluster(), 0, 1)).toThrow(UnsupportedFault);
    expect(() => loseDataDirectory(cluster(), 0, 10)).toThrow(UnsupportedFault);
  });
});
