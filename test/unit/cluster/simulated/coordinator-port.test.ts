import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostUnreachable } from '#cluster/greenplum/errors.ts';
import { ActiveCoordinatorProcess, StandbyCommandFailed } from '#cluster/greenplum/standby.ts';
import { activate, fence, initializeStandby } from '#cluster/simulated/coordinator.ts';
import {
  CoordinatorNotAnswering,
  UnknownHost,
  UnsupportedFault,
} from '#cluster/simulated/errors.ts';
import { crashSegment, failHost, lagStandby, restoreHost } from '#cluster/simulated/faults.ts';
import type { SimulatedClusterState } from '#cluster/simulated/model.ts';
import { ValidationError } from '#domain/errors.ts';
import { faultSchema } from '#domain/requests.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { memorySimulation } from '#test/memory-simulation.ts';
import { sortRows } from '#domain/segment.ts';
import { expectValid } from './helpers.ts';
import { afterActivation, cluster, coordinator, standby, withStandby } from './standby-cluster.ts';

describe('through the port and the simulator (scenario fail steps)', () => {
  const simulated = async () => {
    const { sim, simulator } = memorySimulation(() => 1000);
    await simulator.create('c', withStandby, { hostRestartSeconds: null });
    return { port: sim('c'), simulator };
  };

  it('injects standby-lag, and a killed coordinator; fails over with CoordinatorOperations', async () => {
    const { port, simulator } = await simulated();
    await simulator.inject('c', { dbid: 10, kind: 'standby-lag', bytes: 4096 });
    expect(await port.readStandbyReplication()).toMatchObject({ state: 'catchup' });
    await simulator.inject('c', { dbid: 1, kind: 'crash' });
    await expect(port.readConfiguration()).rejects.toThrow(CoordinatorNotAnswering);
    await expect(port.runningGprecoverseg()).rejects.toThrow(CoordinatorNotAnswering);
    const ops = port.coordinator;
    expect(await ops.probe(coordinator, standby)).toEqual({
      coordinator: 'no-response',
      standby: 'mirror-ready',
    });
    await expect(ops.activate(standby)).rejects.toThrow(ActiveCoordinatorProcess);
    expect(await ops.fence(coordinator)).toMatchObject({
      stopped: false,
      removed: [expect.any(String), expect.any(String)],
    });
    await ops.activate(standby);
    const activated = (await port.readConfiguration()).segments;
    expect(activated).toEqual(sortRows(afterActivation));
    const place = { ...coordinator, datadir: '/data1/gpdb/master2/gpseg-1' };
    await ops.initializeStandby(
      activated.find((r) => r.dbid === 10)!,
      place,
    );
    expect(await port.readStandbyReplication()).toMatchObject({ state: 'streaming' });
  });

  it('a lost coordinator host answers nothing: reads and the fence are HostUnreachable', async () => {
    const { port, simulator } = await simulated();
    await simulator.inject('c', { host: 'mdw', kind: 'host-down' });
    await expect(port.readReplication()).rejects.toThrow(HostUnreachable);
    await expect(port.coordinator.fence(coordinator)).rejects.toThrow(HostUnreachable);
  });

  it('refuses a standby-lag on a segment and a lost coordinator data directory, changing nothing', async () => {
    const { port, simulator } = await simulated();
    const before = await port.readState();
    await expect(simulator.inject('c', { dbid: 6, kind: 'standby-lag', bytes: 1 })).rejects.toThrow(
      UnsupportedFault,
    );
    await expect(simulator.inject('c', { dbid: 1, kind: 'disk-lost' })).rejects.toThrow(
      UnsupportedFault,
    );
    expect(await port.readState()).toEqual(before);
  });
});

describe('the fault schema', () => {
  it.each([
    [{ dbid: 10, kind: 'standby-lag' }, 'no bytes'],
    [{ dbid: 10, kind: 'standby-lag', bytes: 0 }, 'no lag'],
    [{ dbid: 10, kind: 'standby-lag', bytes: 1.5 }, 'a fraction of a byte'],
    [{ dbid: 10, kind: 'standby-lag', bytes: 2 ** 40 + 1 }, 'over 1 TiB'],
    [{ dbid: 10, kind: 'standby-lag', bytes: '1024' }, 'bytes as text'],
    [{ dbid: 10, kind: 'standby-lag', bytes: 1024, host: 'mdw' }, 'an extra field'],
    [{ kind: 'standby-lag', bytes: 1024 }, 'no dbid'],
  ] as [unknown, string][])('refuses %j (%s)', (fault) => {
    expect(() => parseOrThrow(faultSchema, fault, 'fault')).toThrow(ValidationError);
  });

  it('reads a standby-lag fault as scenario files write it', () => {
    expect(parseOrThrow(faultSchema, { dbid: 10, kind: 'standby-lag', bytes: 1024 })).toEqual({
      dbid: 10,
      kind: 'standby-lag',
      bytes: 1024,
    });
  });
});

describe('failover property: never two coordinators, never an activation past a live one', () => {
  type Step =
    | { kind: 'crash' | 'lag' | 'fence' | 'activate' | 'initialize'; pick: number }
    | { kind: 'failHost' | 'restoreHost'; pick: number };
  const stepArb: fc.Arbitrary<Step> = fc.record({
    kind: fc.constantFrom(
      'crash' as const,
      'lag' as const,
      'fence' as const,
      'activate' as const,
      'initialize' as const,
      'failHost' as const,
      'restoreHost' as const,
    ),
    pick: fc.nat(),
  });
  const HOSTS = ['mdw', 'smdw', 'sdw1'];
  const REFUSALS = [
    ActiveCoordinatorProcess,
    StandbyCommandFailed,
    HostUnreachable,
    CoordinatorNotAnswering,
    UnknownHost,
  ];

  function apply(state: SimulatedClusterState, step: Step, at: number): SimulatedClusterState {
    const content = state.catalog.filter((r) => r.content === -1);
    const target = content[step.pick % content.length]!;
    const host = HOSTS[step.pick % HOSTS.length]!;
    switch (step.kind) {
      case 'crash':
        return crashSegment(state, at, target.dbid);
      case 'lag':
        return target.role === 'm' ? lagStandby(state, at, target.dbid, 1 + step.pick) : state;
      case 'fence':
        return fence(state, at, target).state;
      case 'activate': {
        const old = content.find((r) => r.role === 'p')!;
        const live = !(old.hostname in state.downHosts) && state.processes[old.dbid]!.running;
        const next = activate(state, at, target);
        // Activation goes ahead only past a coordinator that is not running on a host that answers.
        expect(live).toBe(false);
        return next;
      }
      case 'initialize':
        return initializeStandby(
          state,
          at,
          content.find((r) => r.role === 'p')!,
          {
            hostname: host,
            address: host,
            port: 6432 + at,
            datadir: `/data1/standby-${at}/gpseg-1`,
          },
        );
      case 'failHost':
        return failHost(state, at, host);
      case 'restoreHost':
        return restoreHost(state, at, host);
    }
  }

  it('keeps one coordinator in the catalog, activates past none running on a host that answers, and keeps no postmaster of a row gone', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 25 }), (steps) => {
        let state = cluster({ hostRestartSeconds: null });
        for (const [i, step] of steps.entries()) {
          try {
            state = apply(state, step, i + 1);
          } catch (error) {
            // A refusal is a named error and changes nothing; anything else is a bug.
            if (!REFUSALS.some((refusal) => error instanceof refusal)) throw error;
          }
          expectValid(state);
          const dbids = new Set(state.catalog.map((r) => String(r.dbid)));
          expect(Object.keys(state.processes).filter((d) => !dbids.has(d))).toEqual([]);
        }
      }),
      { numRuns: 200 },
    );
  });
});
