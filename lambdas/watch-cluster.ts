import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import { parseOrThrow } from '#domain/validation.ts';
import { watchRequestSchema } from '#domain/watch.ts';
import { loadClusterBackend } from '#cluster/backend.ts';
import { documentClient } from '#store/clients.ts';
import { ClusterLock } from '#store/cluster-lock.ts';
import { StandbyConfirmationItem } from '#store/standby-confirmation.ts';
import { EventStore } from '#store/event-store.ts';
import { tableNamesFromEnv } from '#store/tables.ts';
import { SnsNotifier } from '#app/notifier.ts';
import { SfnWorkflowStarter } from '#app/starter.ts';
import { watchCluster, type WatchDeps, type WatchReport } from '#app/watch.ts';
import { logger } from '#lambdas/common/powertools.ts';
import { metrics } from '#lambdas/common/metrics.ts';
import { publishedLook } from '#lambdas/common/watch-metrics.ts';

const backend = await loadClusterBackend();
let deps: WatchDeps | undefined;

function watchDeps(): WatchDeps {
  if (!deps) {
    const doc = documentClient();
    const tables = tableNamesFromEnv();
    deps = {
      // The log, the lock and the standby's confirmation: a look never touches the projection.
      stores: {
        events: new EventStore(doc, tables),
        lock: new ClusterLock(doc, tables),
        standby: new StandbyConfirmationItem(doc, tables),
      },
      cluster: backend(doc, tables),
      starter: new SfnWorkflowStarter(new SFNClient({}), process.env.STATE_MACHINE_ARN ?? ''),
      notifier: new SnsNotifier(
        () => import('@aws-sdk/client-sns'),
        process.env.NOTIFY_TOPIC_ARN ?? '',
      ),
      now: () => new Date(),
    };
  }
  return deps;
}

/** EventBridge Scheduler, every minute per cluster: one look (shared/app/watch.ts). */
export const handler = middy<unknown, WatchReport>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const { clusterId } = parseOrThrow(watchRequestSchema, event, 'event');
    logger.appendKeys({ clusterId });
    const report = await publishedLook(metrics, clusterId, () =>
      watchCluster(watchDeps(), clusterId),
    );
    logger.info('looked', { ...report });
    return report;
  });
