import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The nodejs24.x runtime's Node: the `node` devDependency, not the Node running vitest. */
export const NODE_24 = join(ROOT, 'node_modules/node/bin/node');

export interface Loaded {
  /** What the files of its directory imported or required from outside it, as `how specifier`. */
  imports: string[];
  /** The files of its directory loaded. */
  files: string[];
}

export interface LoadedBundle {
  handler: string;
  /** What importing the bundle loaded: its init. */
  atInit: Loaded;
  /** With every other file of its directory imported too (its lazy chunks); `lazy` only. */
  all: Loaded;
}

/**
 * What the Lambda runtime does first, in Node 24: import each bundle and find `handler`; and,
 * through a resolve hook, which modules it loads while doing so (`atInit`), from its own
 * directory (`./chunk-….mjs`) or from outside it (`import node:fs`, `require node:http`). With
 * `lazy`, every other file of its directory is imported next (its lazy chunks): `all` is what
 * they load. The bundle test and the bench (what a cold start loads) read their bundles so.
 * @param env the Lambda environment beside AWS_REGION (CLUSTER_BACKEND chooses what loads)
 */
export function loadInNode24(
  bundles: string[],
  env: Record<string, string>,
  lazy = true,
): LoadedBundle[] {
  const script = `
    import { registerHooks } from 'node:module';
    import { readdirSync } from 'node:fs';
    import { dirname, join } from 'node:path';
    import { pathToFileURL } from 'node:url';
    const bundles = ${JSON.stringify(bundles)};
    let current;
    registerHooks({
      resolve(specifier, context, next) {
        const resolved = next(specifier, context);
        if (current && resolved.url.startsWith(current.directory))
          current.files.add(resolved.url.slice(current.directory.length));
        else if (current && context.parentURL?.startsWith(current.directory))
          current.imports.add(
            (context.conditions.includes('require') ? 'require ' : 'import ') + specifier,
          );
        return resolved;
      },
    });
    const sorted = ({ imports, files }) => ({ imports: [...imports].sort(), files: [...files].sort() });
    const loaded = [];
    for (const bundle of bundles) {
      current = {
        directory: pathToFileURL(dirname(bundle)).href + '/',
        imports: new Set(),
        files: new Set(),
      };
      const { handler } = await import(pathToFileURL(bundle).href);
      const atInit = sorted(current);
      if (${lazy})
        for (const file of readdirSync(dirname(bundle)).filter((file) => file.endsWith('.mjs')))
          await import(pathToFileURL(join(dirname(bundle), file)).href);
      loaded.push({ handler: typeof handler, atInit, all: sorted(current) });
    }
    console.log(JSON.stringify(loaded));`;
  return JSON.parse(
    execFileSync(NODE_24, ['--input-type=module', '-e', script], {
      env: { ...process.env, AWS_REGION: 'eu-west-1', ...env },
      encoding: 'utf8',
    }),
  ) as LoadedBundle[];
}
