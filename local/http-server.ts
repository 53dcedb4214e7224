import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { handleApiEvent, MAX_BODY_BYTES } from '#api/http.ts';
import type { ApiDeps } from '#api/routes.ts';

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The API on localhost: each HTTP request becomes the API Gateway proxy event the router
 * Lambda receives in AWS, and goes through the same routes and handlers.
 */
export function startHttpApi(
  deps: ApiDeps,
  port: number,
  log: (line: string) => void = () => {},
): Promise<Server> {
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const body = await readBody(request);
    const result =
      body === undefined
        ? {
            statusCode: 413,
            // The rest of the body is never read: this connection cannot carry another request.
            headers: { 'content-type': 'application/json', connection: 'close' },
            body: JSON.stringify({ error: `body: larger than ${MAX_BODY_BYTES} bytes` }),
          }
        : await handleApiEvent(
            deps,
            {
              httpMethod: request.method ?? 'GET',
              path: url.pathname,
              queryStringParameters: Object.fromEntries(url.searchParams),
              headers: Object.fromEntries(
                Object.entries(request.headers).map(([k, v]) => [k, String(v)]),
              ),
              body,
              isBase64Encoded: false,
            } as unknown as APIGatewayProxyEvent,
            { error: (message, details) => log(`${message}: ${JSON.stringify(details)}`) },
          );
    response.writeHead(result.statusCode, result.headers as Record<string, string>);
    response.end(result.body);
    log(`${request.method} ${url.pathname} -> ${result.statusCode}`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} is in use: choose another with --port, or stop what listens there`,
            )
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
