import { Metrics } from '@aws-lambda-powertools/metrics';
import { serviceName } from '#lambdas/common/powertools.ts';

/** One metrics instance per Lambda container: the workflow tasks' (see powertools.ts). */
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'recoverseg',
});
