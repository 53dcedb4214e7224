import type { FunctionName } from '#infra/stack.ts';
import { log, round, type Figures } from './context.ts';
import { FUNCTION_NAMES, lambdaBundles, type Composition } from './lambda-bundles.ts';

const kib = (bytes: number) => round(bytes / 1024, 1);
const byName = <T>(f: (name: FunctionName) => T) =>
  Object.fromEntries([...FUNCTION_NAMES].sort().map((name) => [name, f(name)]));

/** The AWS SDK's share of a bundle: its clients and the Smithy runtime under them. */
const sdkBytes = (composition: Composition) =>
  Object.entries(composition)
    .filter(([origin]) => /^@(aws-sdk|smithy|aws)\//.test(origin))
    .reduce((sum, [, bytes]) => sum + bytes, 0);

/** The size of each Lambda bundle as deployed (a figure, not a target), and what it loads at init. */
export async function bundles(): Promise<Figures> {
  const { deployed, composition } = await lambdaBundles();
  const figures = {
    bytes: byName((name) => deployed[name].bytes),
    lazyBytes: byName((name) => deployed[name].lazyBytes),
    sdkBytes: byName((name) => sdkBytes(composition[name])),
    composition: byName((name) => composition[name]),
    method: `Each function as its asset holds it (bundleFunctions of infra/lambda-code.ts, the two esbuild passes cdk synth stages: one over every function, then each function linked on its own; the AWS SDK bundled; source maps not counted). bytes: what importing it loads, which every cold start loads (found by importing it in Node 24 as deployed with the SSM backend: its entry, its chunks, the backend's); lazyBytes: the chunks loaded only on first use (an SDK client one Task alone calls). composition: the bytes loaded at init by package (recoverseg: this repository's code), from esbuild's metafiles (each first-pass chunk's bytes in a function's files shared out as that chunk is made of packages: shares, not exact bytes); sdkBytes: the @aws-sdk/*, @smithy/* and @aws/* packages of it.`,
  };
  log(`bundles: ${JSON.stringify(figures.bytes)}`);
  return {
    ...figures,
    readme: [...FUNCTION_NAMES].sort().map((name) => {
      const parts = composition[name];
      return {
        figure: `Lambda bundle ${name}`,
        value: `${kib(deployed[name].bytes)} KiB at init (AWS SDK ${kib(sdkBytes(parts))} KiB, zod ${kib(parts.zod ?? 0)} KiB, recoverseg ${kib(parts.recoverseg ?? 0)} KiB), ${kib(deployed[name].lazyBytes)} KiB on first use`,
      };
    }),
  };
}
