import type { CoordinatorTransport } from '#cluster/transport/transport.ts';
import { coordinatorScript, versionScript, type CoordinatorSettings } from './commands.ts';
import { section, splitSections } from './framing.ts';
import { parseGpVersion, type ClusterVersion } from './versions.ts';

/**
 * Where a script runs: a host's transport, and the coordinator settings it runs with (after a
 * failover, the activated standby's port and data directory).
 */
export interface ScriptTarget {
  transport: CoordinatorTransport;
  settings: CoordinatorSettings;
}

export function runScript(
  target: ScriptTarget,
  what: string,
  version: ClusterVersion | undefined,
  body: readonly string[],
  timeoutMs?: number,
): Promise<string> {
  const { transport, settings } = target;
  return transport.run({
    what,
    script: coordinatorScript(settings, version, body, transport.encoding),
    adminUser: settings.adminUser,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

/**
 * The cluster's release, asked once (`postgres --gp-version`) of whichever host is asked first:
 * every host runs the same one, and the coordinator may be the host that is gone. A failed
 * attempt is asked again next time.
 */
export class ReleaseCache {
  private version: Promise<ClusterVersion> | undefined;

  get(target: ScriptTarget): Promise<ClusterVersion> {
    this.version ??= learnVersion(target).catch((error: unknown) => {
      this.version = undefined;
      throw error;
    });
    return this.version;
  }
}

async function learnVersion(target: ScriptTarget): Promise<ClusterVersion> {
  const what = 'postgres --gp-version';
  const output = await runScript(target, what, undefined, versionScript());
  return parseGpVersion(what, section(what, splitSections(what, output), 'version'));
}
