import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import { stores } from '#store/stores.ts';
import { startFromTrigger } from '#app/start-from-trigger.ts';
import { SfnWorkflowStarter } from '#app/starter.ts';
import { logger } from '#lambdas/common/powertools.ts';

const starter = new SfnWorkflowStarter(new SFNClient({}), process.env.STATE_MACHINE_ARN ?? '');

/**
 * The EC2 client, loaded by the first event that names an instance (a state change): it is most
 * of this bundle, and an alarm never needs it. esbuild keeps it in the bundle, inside a function
 * that only this import runs, so the cold start neither compiles nor evaluates it.
 */
async function tagsOf(instanceId: string): Promise<Record<string, string>> {
  const ec2 = await import('#lambdas/common/instance-tags.ts');
  return ec2.tagsOf(instanceId);
}

/** CloudWatch alarms and EC2 state changes -> one workflow execution per incident. */
export const handler = middy<unknown, unknown>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const result = await startFromTrigger(event, {
      stores: stores(),
      starter,
      tagsOf,
      now: () => new Date(),
    });
    if (result.started) logger.info('recovery started', { ...result });
    else logger.warn('event dropped', { reason: result.reason });
    return result;
  });
