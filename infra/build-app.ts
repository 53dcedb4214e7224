import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { applyNagChecks } from '#infra/nag.ts';
import { RecoverSegStack } from '#infra/stack.ts';

export const STACK_NAME = 'RecoverSeg';

export interface BuildOptions {
  /** CDK context on top of what the CLI passes (cdk.json, `-c`), e.g. `recoverseg:clusterBackend`. */
  context?: Record<string, unknown>;
  /** Run esbuild for every function (default true). The local runner only needs the template. */
  bundle?: boolean;
  outdir?: string;
}

/** The CDK app: the stack and the cdk-nag checks that every synth runs. */
export function buildApp(options: BuildOptions = {}): { app: App; stack: RecoverSegStack } {
  const context = {
    ...options.context,
    ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
  };
  const app = new App({ context, ...(options.outdir ? { outdir: options.outdir } : {}) });
  const stack = new RecoverSegStack(app, STACK_NAME, {
    description: 'recoverseg: event-sourced recovery of failed Greenplum/Cloudberry segments',
  });
  applyNagChecks(app, stack);
  return { app, stack };
}

/**
 * The synthesized CloudFormation template of the stack, without bundling. Without an outdir
 * the cloud assembly goes to a temporary directory that is removed afterwards: the local
 * runner synthesizes on every start.
 */
export function synthesizedTemplate(
  options: Omit<BuildOptions, 'bundle'> = {},
): Record<string, unknown> {
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'recoverseg-synth-'));
  try {
    const { app, stack } = buildApp({ ...options, outdir, bundle: false });
    return app.synth().getStackArtifact(stack.artifactId).template as Record<string, unknown>;
  } finally {
    if (!options.outdir) rmSync(outdir, { recursive: true, force: true });
  }
}
