import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SNSClient } from '@aws-sdk/client-sns';
import { taskEventSchema, type TaskEvent, type WorkflowTask } from '#domain/step-contract.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { clusterBackendFromEnv } from '#cluster/backend.ts';
import { stores } from '#store/stores.ts';
import { SnsNotifier, type Notifier } from '#app/notifier.ts';
import type { StepDeps } from '#app/steps.ts';
import { logger } from '#lambdas/common/powertools.ts';
import { metrics } from '#lambdas/common/metrics.ts';

const silent: Notifier = { notify: async () => {} };

let deps: StepDeps | undefined;

/** The step dependencies a Lambda container builds once: stores, cluster backend, SNS. */
export function workflowDeps(): StepDeps {
  if (!deps) {
    const shared = stores();
    const topic = process.env.NOTIFY_TOPIC_ARN;
    deps = {
      stores: shared,
      cluster: clusterBackendFromEnv(shared.doc, shared.tables),
      notifier: topic ? new SnsNotifier(new SNSClient({}), topic) : silent,
      now: () => new Date(),
    };
  }
  return deps;
}

/**
 * A workflow Task as a Lambda: validate the payload Step Functions sends, run one step, and
 * return its small result. Errors keep their `name`, which is what Retry and Catch match.
 */
export function workflowTask<R>(
  name: WorkflowTask,
  step: (deps: StepDeps, event: TaskEvent) => Promise<R>,
) {
  return middy<unknown, R>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (raw) => {
      const event = parseOrThrow(taskEventSchema, raw);
      logger.appendKeys({
        clusterId: event.input.clusterId,
        incidentId: event.input.incidentId,
        task: name,
      });
      try {
        const result = await step(workflowDeps(), event);
        metrics.addMetric(`${name}Succeeded`, MetricUnit.Count, 1);
        return result;
      } catch (error) {
        // A step's error is the state machine's to retry or catch (PromotionPending is thrown
        // at every look while FTS promotes): counted, so no invocation publishes nothing.
        metrics.addMetric(`${name}Errors`, MetricUnit.Count, 1);
        throw error;
      }
    });
}
