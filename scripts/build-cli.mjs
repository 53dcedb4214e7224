// The `recoverseg` command as JavaScript, so that it starts without compiling TypeScript.
//
// esbuild bundles local/cli.ts and every Lambda handler into one directory per build under
// node_modules/.cache/recoverseg/cli/. Packages stay external (aws-cdk-lib alone is tens of
// megabytes) and code splitting keeps each dynamic import() a chunk of its own: `--help` and
// the API's clients load none of CDK, the local runtime or DynamoDB Local.
//
// `npm ci` builds it (`prepare`); local/bin/recoverseg.js calls currentCli(), which says no as
// soon as any source of the build is newer than the build, and then builds again: a developer
// who edits a file runs the edited CLI, never a stale one.
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'recoverseg', 'cli');
/** Older builds go when a new one is made, unless a running process may still load from them. */
const KEEP_MS = 24 * 3600_000;

/**
 * Files whose change means a new build although esbuild does not list them as inputs: the
 * `imports` map and this script's options.
 */
const ALSO = ['package.json', 'scripts/build-cli.mjs'];

/** The entry module of the current build, or undefined when there is none or it is stale. */
export function currentCli(cache = CACHE) {
  let build;
  try {
    build = JSON.parse(readFileSync(join(cache, 'current.json'), 'utf8'));
  } catch {
    return undefined;
  }
  for (const file of build.inputs) {
    let mtime;
    try {
      mtime = statSync(join(ROOT, file)).mtimeMs;
    } catch {
      return undefined;
    }
    if (mtime >= build.startedAt) return undefined;
  }
  return join(cache, build.dir, 'cli.js');
}

/**
 * Code that moves into the build directory keeps the `import.meta.url` of its source file,
 * relative to the build so that a moved checkout still works: infra/stack.ts finds the
 * repository root by it, the demo its scenario and `serve` the dashboard's files. `define`
 * turns each `import.meta.url` expression (never one inside a string) into SOURCE_URL, which
 * each such module declares for itself (from `import.meta` under another name, which the
 * define leaves alone; esbuild keeps the names of two modules in one chunk apart).
 */
const SOURCE_URL = '__recoversegSourceUrl';
const META = '__recoversegImportMeta';
const sourceUrls = (outdir) => ({
  name: 'source-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const path = relative(outdir, args.path).split(sep).join('/');
      return {
        contents: `const ${META} = import.meta;\nconst ${SOURCE_URL} = new URL(${JSON.stringify(path)}, ${META}.url).href;\n${source}`,
        loader: 'ts',
      };
    });
  },
});

/**
 * Builds the CLI into a fresh directory of `cache` and makes it the current build; returns its
 * entry module and esbuild's metafile (what each output imports, statically or not).
 */
export async function buildCli(cache = CACHE) {
  const { build } = await import('esbuild');
  const startedAt = Date.now();
  const dir = `${startedAt.toString(36)}-${process.pid}`;
  const outdir = join(cache, dir);
  // Each handler is an entry of its own: the local runner imports `#lambdas/<task>.ts` by a
  // name it reads from the task table, which no bundler can follow. The build's package.json
  // maps those names to the built handlers; every output file lies in one directory, so each
  // chunk's import.meta.url has the same place relative to the sources.
  const handlers = readdirSync(join(ROOT, 'lambdas')).filter((f) => f.endsWith('.ts'));
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: {
      cli: 'local/cli.ts',
      ...Object.fromEntries(handlers.map((f) => [`lambda-${f.slice(0, -3)}`, `lambdas/${f}`])),
    },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    packages: 'external',
    metafile: true,
    logLevel: 'error',
    define: { 'import.meta.url': SOURCE_URL },
    plugins: [sourceUrls(outdir)],
  });
  writeFileSync(
    join(outdir, 'package.json'),
    `${JSON.stringify({ type: 'module', imports: { '#lambdas/*.ts': './lambda-*.js' } }, null, 2)}\n`,
  );
  const inputs = [...new Set([...Object.keys(result.metafile.inputs), ...ALSO])].sort();
  const current = join(cache, 'current.json');
  const temporary = `${current}.${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify({ dir, startedAt, inputs }, null, 2)}\n`);
  // Atomic: a CLI starting now reads the old build or the new one, never half of either.
  renameSync(temporary, current);
  for (const other of readdirSync(cache, { withFileTypes: true }))
    if (
      other.isDirectory() &&
      other.name !== dir &&
      Date.now() - statSync(join(cache, other.name)).mtimeMs > KEEP_MS
    )
      rmSync(join(cache, other.name), { recursive: true, force: true });
  return { entry: join(outdir, 'cli.js'), metafile: result.metafile };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { entry } = await buildCli();
  process.stdout.write(`recoverseg CLI built: ${relative(ROOT, entry)}\n`);
}
