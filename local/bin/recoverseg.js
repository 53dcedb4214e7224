#!/usr/bin/env node
// The package's `recoverseg` command: the CLI is TypeScript, run through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli.ts');
process.exit(await main(process.argv.slice(2)));
