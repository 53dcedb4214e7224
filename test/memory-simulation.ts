import { simulatorOver } from '#cluster/simulated/backend.ts';
import type { Simulator } from '#cluster/port.ts';
import type { SimulatedClusterState } from '#cluster/simulated/model.ts';
import { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import type { LoadedState, SimulatedStates, StoredVersion } from '#cluster/simulated/store.ts';

/**
 * Simulated clusters kept in this process instead of the Control table, for unit tests of the
 * steps and the API: the real SimulatedCluster over a versioned slot per cluster with the
 * DynamoDB store's rule (a save wins only over the version it read). The state goes through
 * JSON both ways, as it does through DynamoDB, so no caller shares an object with it.
 */
class MemorySimulatedStates implements SimulatedStates {
  constructor(private readonly slot: { current?: { version: number; body: string } }) {}

  async load(): Promise<LoadedState | undefined> {
    const current = this.slot.current;
    if (!current) return undefined;
    const state = JSON.parse(current.body) as SimulatedClusterState;
    return { state, version: current.version, chunks: 1 };
  }

  async save(state: SimulatedClusterState, previous: StoredVersion | undefined): Promise<boolean> {
    if (this.slot.current?.version !== previous?.version) return false;
    this.slot.current = { version: (previous?.version ?? 0) + 1, body: JSON.stringify(state) };
    return true;
  }
}

export interface MemorySimulation {
  sim(clusterId: string): SimulatedCluster;
  simulator: Simulator;
}

export function memorySimulation(clock: () => number): MemorySimulation {
  const slots = new Map<string, { current?: { version: number; body: string } }>();
  const sim = (clusterId: string) => {
    const slot = slots.get(clusterId) ?? {};
    slots.set(clusterId, slot);
    return new SimulatedCluster({ states: new MemorySimulatedStates(slot), clusterId, clock });
  };
  return { sim, simulator: simulatorOver(sim) };
}
