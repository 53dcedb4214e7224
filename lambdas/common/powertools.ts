import { Logger } from '@aws-lambda-powertools/logger';
import { mapStackTraces } from '#lambdas/common/stack-traces.ts';

// Every handler imports this module: its bundle's traces are mapped from here on.
mapStackTraces();

export const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'recoverseg';

/**
 * One logger per Lambda container, shared by every handler. Metrics live in their own module
 * (metrics.ts): the functions that publish none do not bundle or construct them.
 */
export const logger = new Logger({ serviceName });
