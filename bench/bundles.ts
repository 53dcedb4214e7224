import type { FunctionName } from '#infra/stack.ts';
import { log, round, type BenchContext, type Figures } from './context.ts';
import { FUNCTION_NAMES, lambdaBundles, type Composition } from './lambda-bundles.ts';

const kib = (bytes: number) => round(bytes / 1024, 1);
const byName = <T>(f: (name: FunctionName) => T) =>
  Object.fromEntries([...FUNCTION_NAMES].sort().map((name) => [name, f(name)]));

/** The AWS SDK's share of a bundle: its clients and the Smithy runtime under them. */
const sdkBytes = (composition: Composition) =>
  Object.entries(composition)
    .filter(([origin]) => /^@(aws-sdk|smithy|aws)\//.test(origin))
    .reduce((sum, [, bytes]) => sum + bytes, 0);

/** The size of each Lambda bundle as deployed (a figure, not a target), and what it holds. */
export async function bundles(context: BenchContext): Promise<Figures> {
  const { deployed, deployedBy, composition } = await lambdaBundles(context.quick);
  const figures = {
    bytes: byName((name) => deployed[name].bytes),
    sdkBytes: byName((name) => sdkBytes(composition[name])),
    composition: byName((name) => composition[name]),
    method: `index.mjs of each function (source map beside it, not counted), the AWS SDK bundled, built by ${deployedBy}. composition: bytes in the bundle by package (recoverseg: this repository's code), from esbuild's metafile with the stack's settings; sdkBytes: the @aws-sdk/*, @smithy/* and @aws/* packages of it.`,
  };
  log(`bundles: ${JSON.stringify(figures.bytes)}`);
  return {
    ...figures,
    readme: [...FUNCTION_NAMES].sort().map((name) => {
      const parts = composition[name];
      return {
        figure: `Lambda bundle ${name}`,
        value: `${kib(deployed[name].bytes)} KiB (AWS SDK ${kib(sdkBytes(parts))} KiB, zod ${kib(parts.zod ?? 0)} KiB, recoverseg ${kib(parts.recoverseg ?? 0)} KiB)`,
      };
    }),
  };
}
