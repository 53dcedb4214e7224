import type { FunctionName } from '#infra/stack.ts';
import { log, met, round, type BenchContext, type Figures } from './context.ts';
import { FUNCTION_NAMES, lambdaBundles } from './lambda-bundles.ts';

const KIB = 1024;
const LIMIT = 250 * KIB;
const kib = (bytes: number) => round(bytes / KIB, 1);
const byName = <T>(f: (name: FunctionName) => T) =>
  Object.fromEntries([...FUNCTION_NAMES].sort().map((name) => [name, f(name)]));

/** The size of each Lambda bundle as deployed, and with the AWS SDK bundled instead. */
export async function bundles(context: BenchContext): Promise<Figures> {
  const { deployed, deployedBy, sdkBundled } = await lambdaBundles(context.quick);
  const largest = Math.max(...FUNCTION_NAMES.map((name) => deployed[name].bytes));
  const figures = {
    bytes: byName((name) => deployed[name].bytes),
    largestKiB: kib(largest),
    allAtMost250KiB: largest <= LIMIT,
    sdkBundled: {
      bytes: byName((name) => sdkBundled[name].bytes),
      credentialChainBytes: byName((name) => sdkBundled[name].credentialChainBytes),
    },
    method: `index.mjs of each function (source map beside it, not counted). bytes: as deployed, the AWS SDK left to the nodejs24.x runtime (@aws-sdk/* external), built by ${deployedBy}. sdkBundled: esbuild with the same settings and the SDK bundled; credentialChainBytes: the part of it from the credential providers and the STS/SSO clients they use (what an env-only credential provider could save at most).`,
  };
  log(`bundles: ${JSON.stringify(figures)}`);
  return {
    ...figures,
    readme: [...FUNCTION_NAMES].sort().map((name) => ({
      figure: `Lambda bundle ${name}`,
      value: `${kib(deployed[name].bytes)} KiB (SDK bundled: ${kib(sdkBundled[name].bytes)} KiB)`,
      target: `<= 250 KiB: ${met(deployed[name].bytes <= LIMIT)}`,
    })),
  };
}
