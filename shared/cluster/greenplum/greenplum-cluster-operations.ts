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
import type { CoordinatorTransport } from '#cluster/transport/transport.ts';
import {
  coordinatorScript,
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
  versionScript,
  type CoordinatorSettings,
} from './commands.ts';
import { MalformedOutput } from './errors.ts';
import { section, singleLine, splitSections } from './framing.ts';
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
import { parseGpVersion, type ClusterVersion } from './versions.ts';

export interface GreenplumClusterOperationsOptions {
  transport: CoordinatorTransport;
  /** Defaults: DEFAULT_SETTINGS (the seed's paths, gpadmin, port 5432). */
  settings?: Partial<CoordinatorSettings>;
}

/**
 * A real Greenplum or Cloudberry cluster, driven by scripts on its coordinator through any
 * transport. It learns the release once (`postgres --gp-version`) and builds every command
 * from that release's table (versions.ts).
 */
export class GreenplumClusterOperations implements ClusterOperations {
  private readonly transport: CoordinatorTransport;
  private readonly settings: CoordinatorSettings;
  private version: Promise<ClusterVersion> | undefined;

  constructor(options: GreenplumClusterOperationsOptions) {
    this.transport = options.transport;
    this.settings = validateSettings({ ...DEFAULT_SETTINGS, ...options.settings });
  }

  /** The release on the coordinator, asked once; a failed attempt is asked again next time. */
  clusterVersion(): Promise<ClusterVersion> {
    this.version ??= this.learnVersion().catch((error: unknown) => {
      this.version = undefined;
      throw error;
    });
    return this.version;
  }

  private async learnVersion(): Promise<ClusterVersion> {
    const what = 'postgres --gp-version';
    const output = await this.send(what, undefined, versionScript());
    return parseGpVersion(what, section(what, splitSections(what, output), 'version'));
  }

  private send(
    what: string,
    version: ClusterVersion | undefined,
    body: readonly string[],
  ): Promise<string> {
    const script = coordinatorScript(this.settings, version, body, this.transport.encoding);
    return this.transport.run({ what, script, adminUser: this.settings.adminUser });
  }

  private async run(what: string, body: readonly string[]): Promise<string> {
    return this.send(what, await this.clusterVersion(), body);
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
    const sections = splitSections(what, await this.run(what, gpstateScript(flag)));
    const rc = singleLine(what, section(what, sections, 'gpstate_rc'), 'an exit status');
    if (!/^\d+$/.test(rc.text))
      throw new MalformedOutput(what, rc.number, rc.text, 'expected an exit status');
    return {
      text: section(what, sections, 'gpstate')
        .map((line) => line.text)
        .join('\n'),
      exitStatus: Number(rc.text),
    };
  }
}
