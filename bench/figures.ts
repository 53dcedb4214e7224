import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { ROOT, type Row } from './context.ts';

export const RESULTS = 'bench/results.json';
export const README = 'README.md';
const START = '<!-- figures:start -->';
const END = '<!-- figures:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|');

/**
 * README's figures table from bench/results.json: the `readme` rows of every measurement in the
 * file, in its order, each saying which entry (and whether a --quick run) it comes from. A
 * measurement added to bench/run.ts brings its rows with it.
 */
export function figuresTable(results: Record<string, unknown>): string {
  const lines = [
    '| Figure | Value | Target | From `bench/results.json` |',
    '| --- | --- | --- | --- |',
  ];
  for (const [name, entry] of Object.entries(results)) {
    const { readme, quick } = entry as { readme?: Row[]; quick?: boolean };
    for (const row of readme ?? [])
      lines.push(
        `| ${cell(row.figure)} | ${cell(row.value)} | ${cell(row.target ?? '')} | \`${name}\`${quick ? ' (--quick)' : ''} |`,
      );
  }
  return lines.join('\n');
}

/** `readme` with the table between its figures markers replaced, formatted as prettier would. */
export async function renderReadme(
  readme: string,
  results: Record<string, unknown>,
): Promise<string> {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${README} has no ${START} ... ${END} markers`);
  const rendered = `${readme.slice(0, start + START.length)}\n\n${figuresTable(results)}\n\n${readme.slice(end)}`;
  const options = await resolveConfig(join(ROOT, README));
  return format(rendered, { ...options, filepath: join(ROOT, README) });
}
