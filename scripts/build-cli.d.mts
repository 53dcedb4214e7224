// The types of build-cli.mjs, plain JavaScript so that the bin runs it on any Node.
import type { Metafile } from 'esbuild';

export function currentCli(cache?: string): string | undefined;
export function buildCli(cache?: string): Promise<{ entry: string; metafile: Metafile }>;
