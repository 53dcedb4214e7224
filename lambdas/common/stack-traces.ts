import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Stack traces in the sources' lines, read from the bundle's source maps only when a stack is
 * first formatted. Node's `--enable-source-maps` reads and parses every map when it loads the
 * bundle: 15-40 ms of every cold start (`npm run bench -- coldStart`), for traces most
 * containers never print. A function's bundle is its entry and chunks in one directory
 * (infra/lambda-code.ts), each with its map beside it: a frame in any of them is mapped, each
 * map read once. Only a bundle is mapped (not the sources, which tests run); frames outside it
 * are left as V8 writes them, and function names stay minified.
 * @param module a file of the bundle (this module's, wherever esbuild put it)
 */
export function mapStackTraces(module: string = import.meta.url): void {
  if (!existsSync(`${fileURLToPath(module)}.map`)) return;
  const directory = new URL('.', module).href;
  const maps = new Map<string, SourceMap | null>();
  const sourceMap = (file: string): SourceMap | null => {
    let map = maps.get(file);
    // A map that cannot be read leaves the frames minified rather than failing the `stack` read.
    if (map === undefined) {
      try {
        map = new SourceMap(
          JSON.parse(readFileSync(`${fileURLToPath(file)}.map`, 'utf8')) as SourceMapPayload,
        );
      } catch {
        map = null;
      }
      maps.set(file, map);
    }
    return map;
  };
  const frame = (site: NodeJS.CallSite): string => {
    const text = String(site);
    const file = site.getFileName();
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (!file?.startsWith(directory) || !file.endsWith('.mjs') || line === null || column === null)
      return text;
    const entry = sourceMap(file)?.findEntry(line - 1, column - 1);
    if (!entry || !('originalSource' in entry)) return text;
    const source = fileURLToPath(new URL(entry.originalSource, file));
    return text.replace(
      `${file}:${line}:${column}`,
      `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`,
    );
  };
  Error.prepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) =>
    `${Error.prototype.toString.call(error)}${sites.map((site) => `\n    at ${frame(site)}`).join('')}`;
}
