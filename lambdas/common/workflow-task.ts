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
import { HOST_INSTANCES_ENV, parseHostInstances } from '#cluster/transport/hosts.ts';
import { Ec2Fence, type Ec2Sdk } from '#cluster/aws/ec2-fence.ts';
import {
  COORDINATOR_RECORD_ENV,
  Route53Endpoint,
  parseCoordinatorRecord,
  type Route53Sdk,
} from '#cluster/aws/route53-endpoint.ts';
import { CLIENT_HOOK_ENV, clientHook } from '#cluster/client-hook.ts';
import { logger } from '#lambdas/common/powertools.ts';
import { metrics } from '#lambdas/common/metrics.ts';

const silent: Notifier = { notify: async () => {} };

let deps: StepDeps | undefined;

/**
 * Loaders of the AWS SDK clients one Task alone calls, passed by that Task's entry: a dynamic
 * import here would put them (1.3 MB) in every Task's bundle and cold start.
 */
export interface TaskSdks {
  ec2?: () => Promise<Ec2Sdk>;
  route53?: () => Promise<Route53Sdk>;
}

/**
 * The step dependencies a Lambda container builds once: stores, cluster backend, SNS, and where
 * the stack configured them, the coordinators' instances (the fence) and their Route 53 record.
 */
export function workflowDeps(sdks: TaskSdks = {}): StepDeps {
  if (!deps) {
    const shared = stores();
    const topic = process.env.NOTIFY_TOPIC_ARN;
    const hosts = parseHostInstances(process.env[HOST_INSTANCES_ENV]);
    const record = process.env[COORDINATOR_RECORD_ENV];
    const hook = process.env[CLIENT_HOOK_ENV];
    deps = {
      stores: shared,
      cluster: clusterBackendFromEnv(shared.doc, shared.tables),
      notifier: topic ? new SnsNotifier(new SNSClient({}), topic) : silent,
      now: () => new Date(),
      ...(Object.keys(hosts).length > 0 ? { instances: new Ec2Fence(hosts, sdks.ec2) } : {}),
      // The stack gives the record to MoveClients alone, and its entry the client; `serve
      // --client-hook` names the user's command instead.
      ...(hook
        ? { clients: clientHook(hook) }
        : record && sdks.route53
          ? { clients: new Route53Endpoint(parseCoordinatorRecord(record), sdks.route53) }
          : {}),
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
  sdks: TaskSdks = {},
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
        const result = await step(workflowDeps(sdks), event);
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
