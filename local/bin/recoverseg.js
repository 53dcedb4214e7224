#!/usr/bin/env node
// The package's `recoverseg` command: the CLI built to JavaScript by scripts/build-cli.mjs,
// built again first whenever a source of it changed since (see there).
import { readFileSync } from 'node:fs';
import module from 'node:module';

// The Node the project runs on (its `node` devDependency, which npx puts first on PATH) is
// required before anything else loads: an older one fails deep inside a dependency instead,
// mid-run (Node 20: `Promise.withResolvers is not a function` in aws-local-stepfunctions).
const { devDependencies } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
);
const needed = devDependencies.node.replace(/^\D*/, '');
const [want, have] = [needed, process.versions.node].map((v) => v.split('.').map(Number));
const first = want.findIndex((part, i) => part !== have[i]);
if (first >= 0 && want[first] > have[first]) {
  process.stderr.write(
    `recoverseg: needs Node ${needed} or later, and this is Node ${process.versions.node} (${process.execPath}): run npx recoverseg, or node_modules/.bin/node local/bin/recoverseg.js\n`,
  );
  process.exit(2);
}

// V8's code cache of every module loaded, kept between runs: startup is mostly module loading.
module.enableCompileCache();
const { buildCli, currentCli } = await import('../../scripts/build-cli.mjs');
const { main } = await import(currentCli() ?? (await buildCli()).entry);
process.exit(await main(process.argv.slice(2)));
