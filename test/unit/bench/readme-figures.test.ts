import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { README, RESULTS, figuresTable, renderReadme } from '../../../bench/figures.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe("README's figures table", () => {
  it('is the one bench/results.json renders (npm run bench writes both)', async () => {
    const readme = read(README);
    expect(await renderReadme(readme, JSON.parse(read(RESULTS)))).toBe(readme);
  });

  it('has a row for every Lambda bundle and its cold start', () => {
    const results = JSON.parse(read(RESULTS)) as {
      bundles: { bytes: Record<string, number> };
      coldStart: { functions: Record<string, unknown> };
    };
    const table = figuresTable(results);
    for (const name of Object.keys(results.bundles.bytes)) {
      expect(table).toContain(`| Lambda bundle ${name} |`);
      expect(table).toContain(`| Cold start ${name} (Node 24, local) |`);
    }
    expect(Object.keys(results.coldStart.functions)).toEqual(Object.keys(results.bundles.bytes));
  });

  it("takes any measurement's rows, in the file's order, and says where they come from", () => {
    const table = figuresTable({
      cli: { quick: true, readme: [{ figure: 'CLI --help', value: '80 ms | median' }] },
      bundles: { readme: [{ figure: 'Lambda bundle A', value: '1 KiB', target: 'met' }] },
      other: { figures: 'without readme rows' },
    });
    expect(table.split('\n').slice(2)).toEqual([
      '| CLI --help | 80 ms \\| median |  | `cli` (--quick) |',
      '| Lambda bundle A | 1 KiB | met | `bundles` |',
    ]);
  });

  it('refuses a README without the markers', async () => {
    await expect(renderReadme('# no table here\n', {})).rejects.toThrow(/markers/);
  });
});
