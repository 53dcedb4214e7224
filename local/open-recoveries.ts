import type { LocalRuntime } from '#local/runtime.ts';
import type { RunJournal } from '#local/run-journal.ts';
import { localExecutionArn } from '#local/workflow-runner.ts';
import { executionName } from '#app/starter.ts';
import { runPhase } from '#domain/decisions.ts';
import type { ClusterState } from '#domain/evolve.ts';
import { workflowInputSchema, type WorkflowInput } from '#domain/step-contract.ts';
import { parseOrThrow } from '#domain/validation.ts';
import type { StorePorts } from '#store/ports.ts';

/**
 * `serve` starting: each cluster's projection (what `status` and `config` read) is brought to
 * the log's head before the API answers. The stream alone may not get it there: DynamoDB Local
 * keeps a stream's records for 24 hours, and a second DynamoDB Local once run on the same
 * files wrote events its stream never carried (status stayed at seq 106 while the log reached
 * 142). A projection at another seq than the log's head is rebuilt from the log. Returns one
 * line per cluster rebuilt.
 */
export async function catchUpProjections(stores: StorePorts): Promise<string[]> {
  const lines: string[] = [];
  for (const clusterId of await stores.events.clusterIds()) {
    const [{ lastSeq }, { state }] = await Promise.all([
      stores.events.readHead(clusterId),
      stores.projection.read(clusterId),
    ]);
    if (state.seq === lastSeq) continue;
    await stores.projector.rebuild(clusterId);
    lines.push(
      `cluster ${clusterId}: gp_segment_configuration was at seq ${state.seq} and the log at seq ${lastSeq}; rebuilt from the log`,
    );
  }
  return lines;
}

interface OpenRecovery {
  state: ClusterState;
  name: string;
  input: WorkflowInput;
  kept: boolean;
}

/**
 * `serve` starting: a recovery the log shows open has no run in this process (its serve was
 * killed, stopped or crashed). Each goes on where it stopped: a new execution of the same
 * incident, with the trigger and options of its RecoveryRequested and the waits and limits
 * kept in `journal` (the defaults when none were kept). Its StartRecovery writes nothing (the
 * incident is on record), and its steps find what the dead run began, a gprecoverseg included,
 * instead of starting it again. Returns one line per incident resumed.
 */
export async function resumeOpenRecoveries(
  runtime: LocalRuntime,
  journal: RunJournal | undefined,
): Promise<string[]> {
  const open: OpenRecovery[] = [];
  for (const clusterId of await runtime.stores.events.clusterIds()) {
    const state = await runtime.stores.events.loadState(clusterId);
    if (!state.recovery) continue;
    const { incidentId, trigger, options } = state.recovery;
    const name = executionName(clusterId, incidentId);
    const kept = journal?.read(name);
    const input = parseOrThrow(
      workflowInputSchema,
      { ...kept, clusterId, incidentId, trigger, options },
      'input',
    );
    open.push({ state, name, input, kept: kept !== undefined });
  }
  // Read in full before anything starts: an unreadable journal refuses with nothing resumed.
  for (const name of journal?.names() ?? [])
    if (!open.some((recovery) => recovery.name === name)) journal!.forget(name);
  const lines: string[] = [];
  for (const { state, name, input, kept } of open) {
    const { clusterId, incidentId } = input;
    // Nothing runs in this process yet, so whoever holds the lock is gone: the dead run of this
    // incident, or a run of another that died between taking the lock and recording its request.
    const lock = await runtime.stores.lock.read(clusterId);
    if (lock && lock.holder !== localExecutionArn(name))
      await runtime.stores.lock.release(clusterId, lock.holder);
    await runtime.workflow.start(input);
    lines.push(
      `cluster ${clusterId}: incident ${incidentId} resumed in phase ${runPhase(state)} (its run stopped with the serve that ran it)${
        kept ? '' : '; with the default waits and limits, none being kept for it'
      }`,
    );
  }
  return lines;
}
