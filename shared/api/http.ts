import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import {
  DomainError,
  InvalidTopology,
  InvalidTransition,
  UnknownCluster,
  ValidationError,
} from '#domain/errors.ts';
import { AppendRejected, ClusterLocked, ConcurrencyError } from '#store/errors.ts';
import { Conflict, NotFound, route, type ApiDeps } from '#api/routes.ts';
import { ClusterBusy, OperatorRequestRefused } from '#app/control.ts';

/** API Gateway allows 10 MB; no request of ours needs more than a large registration. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** Domain errors as HTTP: the caller's mistakes are 4xx with the message that names the object. */
const STATUS_BY_ERROR: readonly [new (...args: never[]) => Error, number][] = [
  [ValidationError, 400],
  [AppendRejected, 400],
  [UnknownCluster, 404],
  [NotFound, 404],
  [Conflict, 409],
  [OperatorRequestRefused, 409],
  [ClusterBusy, 409],
  [ClusterLocked, 409],
  [ConcurrencyError, 409],
  [InvalidTopology, 422],
  [InvalidTransition, 409],
  [DomainError, 422],
];

export interface ApiLogger {
  error(message: string, details: Record<string, unknown>): void;
}

/** One API Gateway proxy request through the route table. */
export async function handleApiEvent(
  deps: ApiDeps,
  event: APIGatewayProxyEvent,
  log: ApiLogger,
): Promise<APIGatewayProxyResult> {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES)
    return json(413, { error: `body: larger than ${MAX_BODY_BYTES} bytes` });
  let body: unknown;
  if (text.trim().length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      return json(400, { error: 'body: malformed JSON', path: 'body' });
    }
  }
  const request = {
    method: (event.httpMethod ?? 'GET').toUpperCase(),
    path: event.path ?? '/',
    query: Object.fromEntries(Object.entries(event.queryStringParameters ?? {})),
    body,
    ...(event.requestContext?.identity?.userArn
      ? { caller: event.requestContext.identity.userArn }
      : {}),
  };
  const found = route(request);
  if ('status' in found)
    return found.status === 405
      ? json(
          405,
          {
            error: `${request.method} is not allowed on ${request.path}; use ${found.allowed.join(', ')}`,
          },
          { allow: found.allowed.join(', ') },
        )
      : json(404, { error: `no route ${request.method} ${request.path}` });
  try {
    const response = await found.handler(deps, request, found.params);
    return json(response.statusCode, response.body);
  } catch (error) {
    const status = STATUS_BY_ERROR.find(([type]) => error instanceof type)?.[1];
    if (status !== undefined) {
      const e = error as Error & { path?: string };
      return json(status, { error: e.message, name: e.name, ...(e.path ? { path: e.path } : {}) });
    }
    log.error('request failed', {
      method: request.method,
      path: request.path,
      error: error as Error,
    });
    return json(500, {
      error: 'internal error; the request may be retried',
      name: 'InternalError',
    });
  }
}
