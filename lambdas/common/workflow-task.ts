import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { taskEventSchema, type TaskEvent, type WorkflowTask } from '#domain/step-contract.ts';
import { parseOrThrow } from '#domain/validation.ts';
import type { ClusterBackend } from '#cluster/backend.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TableNames } from '#store/tables.ts';
import { stores } from '#store/stores.ts';
import { SnsNotifier, type Notifier, type SnsSdk } from '#app/notifier.ts';
import type { StepDeps } from '#app/steps.ts';
import { HOST_INSTANCES_ENV, parseHostInstances } from '#cluster/host-instances.ts';
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

/** A Task that the table (infra/tasks.ts) gives no cluster, or no topic, reached for one. */
export class TaskPartMissing extends Error {
  override name = 'TaskPartMissing';
}

const built = new Map<WorkflowTask, StepDeps>();
/** One per container, built by the first Task that drives the cluster: under `serve` every Task
 * runs in one process and they share it, as they share the stores. */
let backend: ClusterBackend | undefined;

/**
 * What a Task uses that others do not, passed by its entry, so that no other Task's bundle
 * holds it: the cluster backend (loaded at init, `await loadClusterBackend()`: the Tasks that
 * drive the cluster use it at every call; the backends CLUSTER_BACKEND does not name are never
 * loaded) and the loaders of the AWS SDK clients it alone calls (each a chunk parsed on its first
 * call, not at init). infra/tasks.ts says which Task drives the cluster and which notifies; the
 * stack grants them that alone.
 */
export interface TaskParts {
  /** The Tasks that drive the cluster (`drivesCluster`): the backend CLUSTER_BACKEND names. */
  cluster?: (doc: DynamoDBDocumentClient, tables: TableNames) => ClusterBackend;
  /** The Tasks that notify (`notifies`): the SNS client, for the topic NOTIFY_TOPIC_ARN names. */
  sns?: () => Promise<SnsSdk>;
  ec2?: () => Promise<Ec2Sdk>;
  route53?: () => Promise<Route53Sdk>;
}

/** A part the table does not give this Task: reaching for it is a bug, named as one. */
function missing(task: WorkflowTask, part: string): never {
  throw new TaskPartMissing(
    `${task} has no ${part}: infra/tasks.ts does not give it one (and the stack grants it none); declare it there and pass it from the Task's entry`,
  );
}

/**
 * The step dependencies a Task builds once per container: stores, the cluster backend and SNS
 * when it has them (TaskParts), and where the stack configured them, the coordinators'
 * instances (the fence) and their Route 53 record.
 */
export function workflowDeps(task: WorkflowTask, parts: TaskParts = {}): StepDeps {
  let deps = built.get(task);
  if (!deps) {
    const shared = stores();
    const topic = process.env.NOTIFY_TOPIC_ARN;
    const hosts = parseHostInstances(process.env[HOST_INSTANCES_ENV]);
    const record = process.env[COORDINATOR_RECORD_ENV];
    const hook = process.env[CLIENT_HOOK_ENV];
    const { cluster, sns } = parts;
    deps = {
      stores: shared,
      cluster: cluster
        ? (backend ??= cluster(shared.doc, shared.tables))
        : () => missing(task, 'cluster'),
      // Without a topic (the local runner) a notifying Task's notice goes nowhere; a Task that
      // does not notify must not try.
      notifier: sns
        ? topic
          ? new SnsNotifier(sns, topic)
          : silent
        : { notify: async () => missing(task, 'SNS topic') },
      now: () => new Date(),
      ...(Object.keys(hosts).length > 0 ? { instances: new Ec2Fence(hosts, parts.ec2) } : {}),
      // The stack gives the record to MoveClients alone, and its entry the client; `serve
      // --client-hook` names the user's command instead.
      ...(hook
        ? { clients: clientHook(hook) }
        : record && parts.route53
          ? { clients: new Route53Endpoint(parseCoordinatorRecord(record), parts.route53) }
          : {}),
    };
    built.set(task, deps);
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
  parts: TaskParts = {},
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
        const result = await step(workflowDeps(name, parts), event);
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
