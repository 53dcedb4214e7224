import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { handleApiEvent } from '#api/http.ts';
import type { ApiDeps } from '#api/routes.ts';
import { clusterBackendName, loadClusterBackend } from '#cluster/backend.ts';
import { stores } from '#store/stores.ts';
import { SfnWorkflowStarter } from '#app/starter.ts';
import { logger } from '#lambdas/common/powertools.ts';

// Registration and faults of simulated clusters: the simulator, only where they are served.
const simulator =
  clusterBackendName(process.env) === 'simulated'
    ? (await import('#cluster/simulated/backend.ts')).simulatorFor
    : undefined;
const backend = await loadClusterBackend();
let deps: ApiDeps | undefined;

function apiDeps(): ApiDeps {
  if (!deps) {
    const shared = stores();
    deps = {
      stores: shared,
      starter: new SfnWorkflowStarter(new SFNClient({}), process.env.STATE_MACHINE_ARN ?? ''),
      simulator: simulator?.(shared.doc, shared.tables),
      // Cancel says whether a gprecoverseg still runs on the coordinator, and its PID.
      cluster: backend(shared.doc, shared.tables),
      now: () => new Date(),
    };
  }
  return deps;
}

/** The REST API (IAM-authorized at API Gateway): every route validates its input with zod. */
export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => handleApiEvent(apiDeps(), event, logger));
