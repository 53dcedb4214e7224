import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DescribeTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { stores } from '#store/stores.ts';
import { startFromTrigger } from '#app/start-from-trigger.ts';
import { SfnWorkflowStarter } from '#app/starter.ts';
import { logger } from '#lambdas/common/powertools.ts';

const ec2 = new EC2Client({});
const starter = new SfnWorkflowStarter(new SFNClient({}), process.env.STATE_MACHINE_ARN ?? '');

async function tagsOf(instanceId: string): Promise<Record<string, string> | undefined> {
  const { Tags = [] } = await ec2.send(
    new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [instanceId] }] }),
  );
  return Object.fromEntries(Tags.map((t) => [t.Key ?? '', t.Value ?? '']));
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
