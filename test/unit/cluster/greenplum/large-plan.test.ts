import { describe, expect, it } from 'vitest';
import type { PlanItem } from '#domain/events.ts';
import { prepareRecovery } from '#cluster/greenplum/commands.ts';
import { parseOperationOutput } from '#cluster/greenplum/gprecoverseg.ts';
import { parseGpVersion } from '#cluster/greenplum/versions.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';
import { outputLines, pollOutput, readCapture } from './captures.ts';

/**
 * An 8,000-segment recovery through the adapter: the -i file and the poll's answer, the latter
 * built from capture 32 (gprecoverseg -a of sdw2) with its per-segment lines repeated per dbid.
 */
describe('an 8,000-segment recovery', () => {
  const segments = groupMirroredCluster(2, 4000).map((row) =>
    row.role === 'm' ? { ...row, status: 'd' as const, mode: 'n' as const } : row,
  );
  const mirrors = segments.filter((row) => row.role === 'm');
  const plan: PlanItem[] = mirrors.map((row) => ({
    dbid: row.dbid,
    content: row.content,
    sourceDbid: row.content + 2,
    type: 'incremental',
  }));

  it('writes one -i file of every planned segment, in plan order', async () => {
    const gp6 = parseGpVersion(
      'postgres --gp-version',
      outputLines((await readCapture('01a_postgres_gp_version.txt')).body.trimEnd()),
    );
    const prepared = prepareRecovery(plan, segments, gp6);
    expect(prepared.phases).toHaveLength(1);
    expect(prepared.phases[0]).toMatchObject({ name: 'incremental' });
    expect(prepared.phases[0]!).toHaveProperty(
      'config',
      mirrors.map((row) => `${row.address}|${row.port}|${row.datadir}`),
    );
    expect(prepared.planLines).toHaveLength(8000);
  });

  it('reads every segment of the poll recovered', async () => {
    const capture = await readCapture('32_gprecoverseg_a.txt');
    const lines = capture.body.split('\n');
    const own = /^\S+ \(dbid \d+\): /;
    const perSegment = lines.filter((line) => line.startsWith('sdw2 (dbid 4): '));
    const body = [
      ...mirrors.flatMap((row) =>
        perSegment.map((line) =>
          line.replace('sdw2 (dbid 4)', `${row.hostname} (dbid ${row.dbid})`),
        ),
      ),
      ...lines.filter((line) => !own.test(line)),
    ].join('\n');
    const handle = { operationId: 'recovery-rack-0123456789ab', kind: 'recovery' as const };
    const output = await pollOutput(handle, {
      phases: [{ phase: 'incremental', capture: { ...capture, body } }],
      plan: mirrors.map(
        (row) => `${row.dbid}|${row.content}|incremental|${row.hostname}|${row.port}`,
      ),
    });
    const status = parseOperationOutput(handle, output);
    expect(status.done).toBe(true);
    expect(status.failures).toEqual([]);
    expect(status.recovered).toEqual(mirrors.map((row) => row.dbid));
    expect(status.progress).toHaveLength(8000);
    expect(status.progress[0]).toMatchObject({ percent: 47, totalKb: 220671 });
  });
});
