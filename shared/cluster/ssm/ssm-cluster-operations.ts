import type { SSMClient } from '@aws-sdk/client-ssm';
import type { PlanItem } from '#domain/events.ts';
import type {
  ClusterObservation,
  ClusterOperations,
  OperationHandle,
  OperationStatus,
  ReplicationState,
} from '#cluster/port.ts';
import {
  coordinatorCommand,
  DEFAULT_ENVIRONMENT,
  ftsProbeScript,
  gpstateScript,
  operationIdFor,
  prepareRecovery,
  readConfigurationScript,
  readReplicationScript,
  startRebalanceScript,
  startRecoveryScript,
  validateEnvironment,
  validateHandle,
  type CoordinatorEnvironment,
} from '#cluster/greenplum/commands.ts';
import { MalformedOutput } from '#cluster/greenplum/errors.ts';
import { pollScript } from '#cluster/greenplum/poll.ts';
import { section, splitSections } from '#cluster/greenplum/framing.ts';
import { parseOperationOutput, parseStartOutput } from '#cluster/greenplum/gprecoverseg.ts';
import {
  parseGpstateErrors,
  parseGpstateMirrors,
  type GpstateErrorReport,
  type GpstateMirrorList,
} from '#cluster/greenplum/gpstate.ts';
import {
  currentDoubleFaults,
  parseDoubleFaultContents,
  parseReplication,
  parseSegmentRows,
} from '#cluster/greenplum/psql.ts';
import { runOnCoordinator, type RunCommandSettings } from './run-command.ts';

export interface SsmClusterOperationsOptions {
  ssm: SSMClient;
  /** The coordinator's EC2 instance (or SSM managed instance) id. */
  instanceId: string;
  gphome?: string;
  coordinatorDataDirectory?: string;
  pollIntervalMs?: number;
  /** Per Run Command; long operations are start-then-poll, so this stays short. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** How far back `FTS: double fault detected` history lines count. */
  doubleFaultLookbackSeconds?: number;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The real cluster: Greenplum or Cloudberry on EC2, driven through SSM Run Command on the coordinator. */
export class SsmClusterOperations implements ClusterOperations {
  private readonly settings: RunCommandSettings;
  private readonly environment: CoordinatorEnvironment;
  private readonly doubleFaultLookbackSeconds: number;

  constructor(options: SsmClusterOperationsOptions) {
    this.settings = {
      ssm: options.ssm,
      instanceId: options.instanceId,
      pollIntervalMs: options.pollIntervalMs ?? 2_000,
      timeoutMs: options.timeoutMs ?? 120_000,
      sleep: options.sleep ?? sleepFor,
    };
    this.environment = validateEnvironment({
      gphome: options.gphome ?? DEFAULT_ENVIRONMENT.gphome,
      coordinatorDataDirectory:
        options.coordinatorDataDirectory ?? DEFAULT_ENVIRONMENT.coordinatorDataDirectory,
    });
    this.doubleFaultLookbackSeconds = options.doubleFaultLookbackSeconds ?? 86_400;
  }

  private run(what: string, body: readonly string[]): Promise<string> {
    return runOnCoordinator(this.settings, what, coordinatorCommand(this.environment, body));
  }

  async readConfiguration(): Promise<ClusterObservation> {
    const what = 'read gp_segment_configuration';
    const sections = splitSections(
      what,
      await this.run(what, readConfigurationScript(this.doubleFaultLookbackSeconds)),
    );
    const segments = parseSegmentRows(what, section(what, sections, 'segments'));
    const contents = parseDoubleFaultContents(what, section(what, sections, 'double_faults'));
    return { segments, doubleFaults: currentDoubleFaults(segments, contents) };
  }

  async readReplication(): Promise<ReplicationState[]> {
    const what = 'read gp_stat_replication';
    const sections = splitSections(what, await this.run(what, readReplicationScript()));
    return parseReplication(
      what,
      parseSegmentRows(what, section(what, sections, 'segments')),
      section(what, sections, 'replication'),
      section(what, sections, 'wal_lag'),
    );
  }

  async requestFtsProbe(): Promise<void> {
    const what = 'gp_request_fts_probe_scan()';
    const lines = section(
      what,
      splitSections(what, await this.run(what, ftsProbeScript())),
      'probe',
    );
    const line = lines[0];
    if (lines.length !== 1 || line?.text !== 't')
      throw new MalformedOutput(what, line?.number ?? 0, line?.text ?? '', 'expected "t"');
  }

  async startRecovery(plan: readonly PlanItem[], operationKey: string): Promise<OperationHandle> {
    const operationId = operationIdFor('recovery', operationKey);
    const { segments } = await this.readConfiguration();
    const prepared = prepareRecovery(plan, segments);
    const what = `start gprecoverseg ${operationId}`;
    parseStartOutput(what, await this.run(what, startRecoveryScript(operationId, prepared)));
    return { operationId, kind: 'recovery' };
  }

  async startRebalance(
    options: { replayLagGb: number },
    operationKey: string,
  ): Promise<OperationHandle> {
    const operationId = operationIdFor('rebalance', operationKey);
    const what = `start gprecoverseg -r ${operationId}`;
    parseStartOutput(
      what,
      await this.run(what, startRebalanceScript(operationId, options.replayLagGb)),
    );
    return { operationId, kind: 'rebalance' };
  }

  async pollOperation(handle: OperationHandle): Promise<OperationStatus> {
    const checked = validateHandle(handle);
    return parseOperationOutput(
      checked,
      await this.run(`poll ${checked.operationId}`, pollScript(checked)),
    );
  }

  /** `gpstate -m`, for reports; the workflow decides on the catalog, not on this. */
  async gpstateMirrors(): Promise<GpstateMirrorList> {
    const what = 'gpstate -m';
    return parseGpstateMirrors(await this.gpstateText(what, gpstateScript('-m')));
  }

  /** `gpstate -e`, for reports. */
  async gpstateErrors(): Promise<GpstateErrorReport> {
    const what = 'gpstate -e';
    return parseGpstateErrors(await this.gpstateText(what, gpstateScript('-e')));
  }

  private async gpstateText(what: string, body: readonly string[]): Promise<string> {
    const lines = section(what, splitSections(what, await this.run(what, body)), 'gpstate');
    return lines.map((line) => line.text).join('\n');
  }
}
