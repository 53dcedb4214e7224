import type { PlanItem, StandbyReplication } from '#domain/events.ts';
import { observedDoubleFaults } from '#domain/observation.ts';
import type {
  ClusterObservation,
  ClusterOperations,
  OperationHandle,
  OperationStatus,
  ReplicationState,
  RunningGprecoverseg,
} from '#cluster/port.ts';
import type { HostTransports } from '#cluster/transport/hosts.ts';
import type { CoordinatorTransport } from '#cluster/transport/transport.ts';
import {
  DEFAULT_SETTINGS,
  ftsProbeScript,
  gpstateScript,
  operationIdFor,
  prepareRecovery,
  readConfigurationScript,
  readReplicationScript,
  readSegmentsScript,
  runningGprecoversegScript,
  REPLAY_LAG_REFUSAL,
  startRebalanceScript,
  startRecoveryScript,
  validateHandle,
  validateSettings,
  type CoordinatorSettings,
} from './commands.ts';
import { GreenplumCoordinatorOperations } from './coordinator-operations.ts';
import { MalformedOutput } from './errors.ts';
import { section, singleLine, splitSections, toolOutput } from './framing.ts';
import { ReleaseCache, runScript, type ScriptTarget } from './host-script.ts';
import {
  parseOperationOutput,
  parseRunningGprecoverseg,
  parseStartOutput,
} from './gprecoverseg.ts';
import {
  parseGpstateErrors,
  parseGpstateMirrors,
  type GpstateErrorReport,
  type GpstateMirrorList,
} from './gpstate.ts';
import { pollScript } from './poll.ts';
import { parseReplication, parseResponses, parseSegmentRows } from './psql.ts';
import { parseStandbyReplication, standbyReplicationScript } from './standby.ts';
import { ReplayLagOverLimit } from './version-errors.ts';
import type { ClusterVersion } from './versions.ts';

export interface GreenplumClusterOperationsOptions {
  transport: CoordinatorTransport;
  /** Defaults: DEFAULT_SETTINGS (the seed's paths, gpadmin, port 5432). */
  settings?: Partial<CoordinatorSettings>;
  /**
   * Every host of the cluster by name, for the coordinator's failover (`coordinator`), which
   * runs on the coordinator's and the standby's hosts. Without it there is no failover.
   */
  hosts?: HostTransports;
}

/**
 * A real Greenplum or Cloudberry cluster, driven by scripts on its coordinator through any
 * transport. It learns the release once (`postgres --gp-version`) and builds every command
 * from that release's table (versions.ts).
 */
export class GreenplumClusterOperations implements ClusterOperations {
  private readonly target: ScriptTarget;
  private readonly release = new ReleaseCache();
  readonly coordinator?: GreenplumCoordinatorOperations;

  constructor(options: GreenplumClusterOperationsOptions) {
    const settings = validateSettings({ ...DEFAULT_SETTINGS, ...options.settings });
    this.target = { transport: options.transport, settings };
    if (options.hosts)
      this.coordinator = new GreenplumCoordinatorOperations({
        hosts: options.hosts,
        settings,
        release: this.release,
      });
  }

  /** The release on the coordinator, asked once; a failed attempt is asked again next time. */
  clusterVersion(): Promise<ClusterVersion> {
    return this.release.get(this.target);
  }

  private async run(what: string, body: readonly string[]): Promise<string> {
    return runScript(this.target, what, await this.clusterVersion(), body);
  }

  async readConfiguration(): Promise<ClusterObservation> {
    const what = 'read gp_segment_configuration';
    const sections = splitSections(what, await this.run(what, readConfigurationScript()));
    const segments = parseSegmentRows(what, section(what, sections, 'segments'));
    const { unresponsive, notReady } = parseResponses(
      what,
      section(what, sections, 'responds'),
      segments,
    );
    return {
      segments,
      unresponsive,
      notReady,
      doubleFaults: observedDoubleFaults(segments, unresponsive),
    };
  }

  async readReplication(): Promise<ReplicationState[]> {
    const what = 'read gp_stat_replication';
    const { family } = await this.clusterVersion();
    const sections = splitSections(what, await this.run(what, readReplicationScript(family)));
    const segments = parseSegmentRows(what, section(what, sections, 'segments'));
    if (sections.has('replication_unanswered')) return parseReplication(what, segments, [], []);
    return parseReplication(
      what,
      segments,
      section(what, sections, 'replication'),
      section(what, sections, 'wal_lag'),
    );
  }

  async readStandbyReplication(): Promise<StandbyReplication> {
    const what = 'read pg_stat_replication';
    const { family } = await this.clusterVersion();
    const sections = splitSections(what, await this.run(what, standbyReplicationScript()));
    return parseStandbyReplication(what, section(what, sections, 'standby'), family);
  }

  async runningGprecoverseg(): Promise<RunningGprecoverseg | undefined> {
    const what = 'gprecoverseg.lock holder';
    const sections = splitSections(what, await this.run(what, runningGprecoversegScript()));
    return parseRunningGprecoverseg(what, section(what, sections, 'running'));
  }

  async requestFtsProbe(): Promise<void> {
    const what = 'gp_request_fts_probe_scan()';
    const sections = splitSections(what, await this.run(what, ftsProbeScript()));
    const line = singleLine(what, section(what, sections, 'probe'), '"t"');
    if (line.text !== 't') throw new MalformedOutput(what, line.number, line.text, 'expected "t"');
  }

  async startRecovery(plan: readonly PlanItem[], operationKey: string): Promise<OperationHandle> {
    const operationId = operationIdFor('recovery', operationKey);
    const version = await this.clusterVersion();
    const read = 'read gp_segment_configuration';
    const segments = parseSegmentRows(
      read,
      section(read, splitSections(read, await this.run(read, readSegmentsScript())), 'segments'),
    );
    const prepared = prepareRecovery(plan, segments, version);
    const what = `start gprecoverseg ${operationId}`;
    parseStartOutput(what, await this.run(what, startRecoveryScript(operationId, prepared)));
    return { operationId, kind: 'recovery' };
  }

  async startRebalance(
    options: { replayLagGb: number },
    operationKey: string,
  ): Promise<OperationHandle> {
    const operationId = operationIdFor('rebalance', operationKey);
    const version = await this.clusterVersion();
    const what = `start gprecoverseg -r ${operationId}`;
    const output = await this.run(
      what,
      startRebalanceScript(operationId, version.family, options.replayLagGb),
    );
    const refusal = REPLAY_LAG_REFUSAL.exec(
      section(what, splitSections(what, output), 'start')[0]?.text ?? '',
    );
    if (refusal)
      throw new ReplayLagOverLimit(
        Number(refusal[1]),
        Number(refusal[2]),
        options.replayLagGb,
        version.display,
      );
    parseStartOutput(what, output);
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
    const { text, exitStatus } = await this.gpstate('gpstate -m', '-m');
    return parseGpstateMirrors(text, exitStatus);
  }

  /** `gpstate -e`, for reports. */
  async gpstateErrors(): Promise<GpstateErrorReport> {
    const { text, exitStatus } = await this.gpstate('gpstate -e', '-e');
    return parseGpstateErrors(text, exitStatus);
  }

  private async gpstate(what: string, flag: '-m' | '-e') {
    return toolOutput(
      what,
      splitSections(what, await this.run(what, gpstateScript(flag))),
      'gpstate',
    );
  }
}
