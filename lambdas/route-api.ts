import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { handleApiEvent } from '#api/http.ts';
import type { ApiDeps } from '#api/routes.ts';
import { clusterBackendFromEnv, simulatorFor } from '#cluster/backend.ts';
import { stores } from '#store/stores.ts';
import { SfnWorkflowStarter } from '#app/starter.ts';
import { logger } from '#lambdas/common/powertools.ts';

let deps: ApiDeps | undefined;

function apiDeps(): ApiDeps {
  if (!deps) {
    const shared = stores();
    deps = {
      stores: shared,
      starter: new SfnWorkflowStarter(new SFNClient({}), process.env.STATE_MACHINE_ARN ?? ''),
      simulator:
        (process.env.CLUSTER_BACKEND ?? 'simulated') === 'simulated'
          ? simulatorFor(shared.doc, shared.tables)
          : undefined,
      // Cancel says whether a gprecoverseg still runs on the coordinator, and its PID.
      cluster: clusterBackendFromEnv(shared.doc, shared.tables),
      now: () => new Date(),
    };
  }
  return deps;
}

/** The REST API (IAM-authorized at API Gateway): every route validates its input with zod. */
export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => handleApiEvent(apiDeps(), event, logger));
