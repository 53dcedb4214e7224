import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { handleApiEvent, MAX_BODY_BYTES } from '#api/http.ts';
import { ROUTES, type ApiDeps } from '#api/routes.ts';
import { clusterIdSchema } from '#domain/events.ts';
import type { LiveFeed } from '#local/web/live.ts';

/** The dashboard's files: a fixed list, so no request path ever reaches the file system. */
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/web/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/web/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/web/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};
const PAGE_DIR = new URL('./web/', import.meta.url);

/**
 * The page builds every value into the DOM as text; the policy is the second line: no inline
 * script, no script or style from anywhere but this server, nothing framed.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/** Local-only paths of the dashboard, outside the route table API Gateway serves. */
const DASHBOARD_PREFIX = '/_dashboard/';

/** How often an open live stream looks at the head of the cluster's event log. */
export const LIVE_CHECK_MS = 200;
const LIVE_KEEPALIVE_MS = 15_000;

export interface HttpApiOptions {
  /** Progress of the local workflow's gprecoverseg runs and WAL catch-up, for the live stream. */
  live?: LiveFeed;
}

async function servePage(response: ServerResponse, path: string): Promise<boolean> {
  const page = PAGE_FILES[path];
  if (!page) return false;
  const body = await readFile(new URL(page.file, PAGE_DIR));
  response.writeHead(200, { 'content-type': page.type, ...PAGE_HEADERS });
  response.end(body);
  return true;
}

/**
 * Server-sent events for one cluster: an `update` with the event log's head seq, the live
 * progress and the watcher's last look whenever one of them changes. The page then reads the API's own routes.
 */
function streamLive(
  deps: ApiDeps,
  options: HttpApiOptions,
  clusterId: string,
  request: IncomingMessage,
  response: ServerResponse,
  streams: Set<ServerResponse>,
): void {
  streams.add(response);
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-content-type-options': 'nosniff',
  });
  let last = '';
  let busy = false;
  const send = async () => {
    if (busy) return;
    busy = true;
    try {
      const { lastSeq } = await deps.stores.events.readHead(clusterId);
      const progress = options.live?.current(clusterId) ?? null;
      // The watcher's last look writes nothing when nothing changed: the stream carries it.
      const look = deps.lastLook?.(clusterId) ?? null;
      const data = JSON.stringify({ clusterId, seq: lastSeq, progress, look });
      if (data !== last) {
        last = data;
        response.write(`event: update\ndata: ${data}\n\n`);
      }
    } catch (error) {
      response.write(
        `event: failure\ndata: ${JSON.stringify({ error: (error as Error).message })}\n\n`,
      );
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(send, LIVE_CHECK_MS);
  const keepalive = setInterval(() => response.write(': keepalive\n\n'), LIVE_KEEPALIVE_MS);
  const unsubscribe = options.live?.subscribe((id) => {
    if (id === clusterId) void send();
  });
  void send();
  request.once('close', () => {
    streams.delete(response);
    clearInterval(timer);
    clearInterval(keepalive);
    unsubscribe?.();
  });
}

/**
 * The dashboard's own requests: the page, the route table (so its actions follow the API as it
 * is, not as the page was written), and the live stream. Returns false for anything else.
 */
async function serveDashboard(
  deps: ApiDeps,
  options: HttpApiOptions,
  streams: Set<ServerResponse>,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<boolean> {
  if (request.method !== 'GET') return false;
  if (await servePage(response, path)) return true;
  if (path === `${DASHBOARD_PREFIX}routes`) {
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    response.end(
      JSON.stringify({ routes: ROUTES.map((r) => ({ method: r.method, path: r.path })) }),
    );
    return true;
  }
  const live = path.startsWith(`${DASHBOARD_PREFIX}live/`)
    ? decodeURIComponent(path.slice(`${DASHBOARD_PREFIX}live/`.length))
    : undefined;
  if (live === undefined) return false;
  if (!clusterIdSchema.safeParse(live).success) {
    response.writeHead(400, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: 'path: not a cluster id', path: 'clusterId' }));
    return true;
  }
  streamLive(deps, options, live, request, response, streams);
  return true;
}

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
 * Lambda receives in AWS, and goes through the same routes and handlers. `/` is the dashboard.
 */
export function startHttpApi(
  deps: ApiDeps,
  port: number,
  log: (line: string) => void = () => {},
  options: HttpApiOptions = {},
): Promise<Server> {
  const streams = new Set<ServerResponse>();
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (await serveDashboard(deps, options, streams, request, response, url.pathname)) return;
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
  // A live stream never goes idle, so close() would wait for the page to leave: end them.
  const close = server.close.bind(server);
  server.close = (callback) => {
    for (const stream of streams) stream.end();
    return close(callback);
  };
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
