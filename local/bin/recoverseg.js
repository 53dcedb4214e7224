#!/usr/bin/env node
// The package's `recoverseg` command: the CLI built to JavaScript by scripts/build-cli.mjs,
// built again first whenever a source of it changed since (see there).
import module from 'node:module';

// V8's code cache of every module loaded, kept between runs: startup is mostly module loading.
// (Absent before Node 22: such a Node runs it without.)
module.enableCompileCache?.();
const { buildCli, currentCli } = await import('../../scripts/build-cli.mjs');
const { main } = await import(currentCli() ?? (await buildCli()).entry);
process.exit(await main(process.argv.slice(2)));
