import type { CoordinatorOperations, CoordinatorProbe, StandbyLocation } from '#cluster/port.ts';
import type { HostTransports } from '#cluster/transport/hosts.ts';
import { segmentLocationSchema, type SegmentRow } from '#domain/segment.ts';
import { parseOrThrow } from '#domain/validation.ts';
import type { CoordinatorSettings } from './commands.ts';
import { CoordinatorScriptTimedOut } from '#cluster/transport/errors.ts';
import { section as sectionMarker } from './commands.ts';
import { HostUnreachable, MalformedOutput, SsmCommandTimedOut } from './errors.ts';
import { section, singleLine, splitSections, toolOutput } from './framing.ts';
import type { ReleaseCache } from './host-script.ts';
import { runScript, type ScriptTarget } from './host-script.ts';
import {
  activateScript,
  fenceScript,
  initializeStandbyScript,
  parseActivation,
  parseFence,
  parseStandbyInitialization,
  postmasterAnswer,
  probeScript,
  type FenceAnswer,
} from './standby.ts';
import type { ClusterVersion } from './versions.ts';

/**
 * How long gpactivatestandby and gpinitstandby may run. An activation took 8 s on the test
 * cluster (capture 128), but gpactivatestandby waits up to 600 s for the promoted standby to
 * take connections, and gpinitstandby copies the coordinator's whole data directory
 * (pg_basebackup). What calls these must allow as long.
 */
export const STANDBY_TOOL_TIMEOUT_MS = 10 * 60_000;

/**
 * How long a host may take to run a trivial script before it counts as not answering: ssh gives
 * up connecting after 10 s, and a stopped instance never picks up an SSM command at all.
 */
export const HOST_ANSWER_TIMEOUT_MS = 30_000;

/** What a transport throws when the host did not run the script: no answer, not a failure. */
const NO_ANSWER = [HostUnreachable, CoordinatorScriptTimedOut, SsmCommandTimedOut];

export interface GreenplumCoordinatorOperationsOptions {
  hosts: HostTransports;
  /** The installation and the admin user; the port and data directory are each row's own. */
  settings: CoordinatorSettings;
  release: ReleaseCache;
}

/**
 * The coordinator's failover on a real cluster, each script on the host of the row it acts on,
 * with that row's port and data directory: probe and activate on the standby's, fence on the
 * old coordinator's, gpinitstandby on the (new) coordinator's.
 */
export class GreenplumCoordinatorOperations implements CoordinatorOperations {
  constructor(private readonly options: GreenplumCoordinatorOperationsOptions) {}

  private on(row: Pick<SegmentRow, 'hostname' | 'port' | 'datadir'>): ScriptTarget {
    return {
      transport: this.options.hosts(row.hostname),
      settings: {
        ...this.options.settings,
        port: row.port,
        coordinatorDataDirectory: row.datadir,
      },
    };
  }

  private async run(
    target: ScriptTarget,
    what: string,
    body: (version: ClusterVersion) => readonly string[],
    timeoutMs?: number,
  ) {
    const version = await this.options.release.get(target);
    return {
      family: version.family,
      sections: splitSections(
        what,
        await runScript(target, what, version, body(version), timeoutMs),
      ),
    };
  }

  async probe(coordinator: SegmentRow, standby: SegmentRow): Promise<CoordinatorProbe> {
    const what = `pg_isready on ${standby.hostname}`;
    const { sections } = await this.run(this.on(standby), what, () =>
      probeScript(coordinator, standby),
    );
    return {
      coordinator: postmasterAnswer(what, section(what, sections, 'coordinator')),
      standby: postmasterAnswer(what, section(what, sections, 'standby')),
    };
  }

  async fence(coordinator: SegmentRow): Promise<FenceAnswer> {
    const what = `fence the coordinator on ${coordinator.hostname}`;
    const { sections } = await this.run(this.on(coordinator), what, () => fenceScript(coordinator));
    return parseFence(what, section(what, sections, 'fence'), section(what, sections, 'removed'));
  }

  async hostAnswers(row: SegmentRow): Promise<boolean> {
    const what = `does ${row.hostname} answer`;
    try {
      // No release needed: the host only has to run a shell and say so.
      const output = await runScript(
        this.on(row),
        what,
        undefined,
        [sectionMarker('answers'), 'echo yes'],
        HOST_ANSWER_TIMEOUT_MS,
      );
      const line = singleLine(what, section(what, splitSections(what, output), 'answers'), 'yes');
      if (line.text !== 'yes')
        throw new MalformedOutput(what, line.number, line.text, 'expected yes');
      return true;
    } catch (error) {
      if (NO_ANSWER.some((kind) => error instanceof kind)) return false;
      throw error;
    }
  }

  async activate(standby: SegmentRow): Promise<void> {
    const what = `gpactivatestandby on ${standby.hostname}`;
    const { family, sections } = await this.run(
      this.on(standby),
      what,
      ({ family }) => activateScript(family, standby),
      STANDBY_TOOL_TIMEOUT_MS,
    );
    const { text, exitStatus } = toolOutput(what, sections, 'activate');
    parseActivation(what, text, exitStatus, family);
  }

  async initializeStandby(coordinator: SegmentRow, location: StandbyLocation): Promise<void> {
    const standby = parseOrThrow(segmentLocationSchema, location, 'location');
    const what = `gpinitstandby on ${coordinator.hostname} for ${standby.hostname}`;
    const { family, sections } = await this.run(
      this.on(coordinator),
      what,
      () => initializeStandbyScript(standby),
      STANDBY_TOOL_TIMEOUT_MS,
    );
    const { text, exitStatus } = toolOutput(what, sections, 'initialize');
    parseStandbyInitialization(what, text, exitStatus, family);
  }
}
