import { describe, expect, it } from 'vitest';
import { configurationOf, fold, foldSteps } from '#domain/evolve.ts';
import {
  historyLines,
  renderConfigurationTable,
  renderGpstateErrors,
  renderGpstateMirrors,
} from '#domain/render.ts';
import { seedGpstate, seedIncidentPhases, seedScenario, seedTables } from '#test/fixtures/seed.ts';

const [registration, failure, recovery] = seedIncidentPhases();

describe('renderers', () => {
  it('renders the seed configuration in the seed layout and order', () => {
    expect(renderConfigurationTable([...seedScenario.segments].reverse())).toBe(seedTables()[2]);
  });

  it('renders gpstate -m exactly as the seed recorded it', () => {
    expect(renderGpstateMirrors(seedScenario.segments)).toEqual(seedGpstate('-m').slice(3));
  });

  it('renders gpstate -e for a healthy cluster exactly as the seed recorded it', () => {
    const state = fold(registration);
    expect(renderGpstateErrors(state)).toEqual(seedGpstate('-e').slice(4));
  });

  it('shows switched roles, downed segments and failed mirrors after the host failure', () => {
    const state = fold([...registration, ...failure]);
    const report = renderGpstateErrors(state).join('\n');
    expect(report).toContain('Segments with Primary and Mirror Roles Switched');
    expect(report).toMatch(/segment-1\s+10500\s+segment-2\s+10000/);
    expect(report).toContain('Downed Segments');
    expect(report).toMatch(/segment-2\s+10500\s+Down\s+Down in configuration/);
    expect(report).not.toContain('All segments are running normally');
    const mirrors = renderGpstateMirrors(configurationOf(state)).join('\n');
    expect(mirrors).toMatch(/segment-2\s+\/data1\/mirror\/gpseg0\s+10500\s+Failed/);
    expect(mirrors).toMatch(
      /segment-1\s+\/data1\/mirror\/gpseg2\s+10500\s+Acting as Primary\s+Not In Sync/,
    );
  });

  it('shows unsynchronized pairs with WAL bytes remaining, Unknown when not reported', () => {
    const upNotSynced = fold([...registration, ...failure, ...recovery.slice(0, 10)]);
    const report = renderGpstateErrors(upNotSynced, { walRemainingBytes: new Map([[0, 1048576]]) });
    expect(report).toContain('Unsynchronized Segment Pairs');
    expect(report.join('\n')).toMatch(/segment-1\s+10000\s+1048576\s+segment-2\s+10500/);
    expect(report.join('\n')).toMatch(/segment-1\s+10001\s+Unknown\s+segment-2\s+10501/);
  });

  it('writes gp_configuration_history lines in FTS words', () => {
    const event = failure[2]!;
    let lines: ReturnType<typeof historyLines> = [];
    foldSteps(
      [event],
      (_event, _seq, changes) => (lines = historyLines(event, changes)),
      fold([...registration, ...failure.slice(0, 2)]),
    );
    expect(lines).toEqual([
      {
        dbid: 4,
        desc: 'FTS: update role, status, and mode for dbid 4 with contentid 2 to m, d, and n',
      },
      {
        dbid: 8,
        desc: 'FTS: update role, status, and mode for dbid 8 with contentid 2 to p, u, and n',
      },
    ]);
  });
});
