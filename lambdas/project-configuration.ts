import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { projectStreamRecords } from '#store/stream-projection.ts';
import { stores } from '#store/stores.ts';
import { logger } from '#lambdas/common/powertools.ts';

/** The event log stream -> the Configuration table (gp_segment_configuration per cluster). */
export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
  .use(injectLambdaContext(logger))
  .handler(async (event) =>
    projectStreamRecords(event.Records ?? [], stores().projector, (clusterId, error) =>
      logger.error('projection failed; the stream will retry', {
        clusterId,
        error: error as Error,
      }),
    ),
  );
