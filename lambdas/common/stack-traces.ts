import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Stack traces in the sources' lines, read from the bundle's source map only when a stack is
 * first formatted. Node's `--enable-source-maps` reads and parses the whole map when it loads
 * the bundle: 15-40 ms of every cold start (`npm run bench -- coldStart`), for traces most
 * containers never print. Only a bundle with its map beside it is mapped (not the sources,
 * which tests run); frames outside the bundle are left as V8 writes them, and function names
 * stay minified.
 */
export function mapStackTraces(bundle: string = import.meta.url): void {
  const path = `${fileURLToPath(bundle)}.map`;
  if (!existsSync(path)) return;
  let map: SourceMap | null | undefined;
  const sourceMap = (): SourceMap | null => {
    // A map that cannot be read leaves the frames minified rather than failing the `stack` read.
    if (map === undefined)
      try {
        map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as SourceMapPayload);
      } catch {
        map = null;
      }
    return map;
  };
  const frame = (site: NodeJS.CallSite): string => {
    const text = String(site);
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (site.getFileName() !== bundle || line === null || column === null) return text;
    const entry = sourceMap()?.findEntry(line - 1, column - 1);
    if (!entry || !('originalSource' in entry)) return text;
    const source = fileURLToPath(new URL(entry.originalSource, bundle));
    return text.replace(
      `${bundle}:${line}:${column}`,
      `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`,
    );
  };
  Error.prepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) =>
    `${Error.prototype.toString.call(error)}${sites.map((site) => `\n    at ${frame(site)}`).join('')}`;
}
