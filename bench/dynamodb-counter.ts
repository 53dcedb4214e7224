import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

/**
 * Counts DynamoDB requests by operation with two middlewares on a client's middleware stack
 * (a DynamoDBDocumentClient shares its client's stack, so one install covers both):
 * - `initialize` step: once per `send`, i.e. per logical request whatever the SDK retries;
 * - `deserialize` step (inside the retry middleware): once per HTTP attempt.
 */
export class RequestCounter {
  requests: Record<string, number> = {};
  attempts = 0;

  install(
    client: { middlewareStack: { add: (mw: never, options: never) => void } },
    label = '',
  ): this {
    client.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          const name = `${label}${(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
          this.requests[name] = (this.requests[name] ?? 0) + 1;
          return next(args);
        }) as never,
      { step: 'initialize', name: `benchRequestCounter${label}`, override: true } as never,
    );
    client.middlewareStack.add(
      ((next: (a: unknown) => Promise<unknown>) => async (args: unknown) => {
        this.attempts++;
        return next(args);
      }) as never,
      { step: 'deserialize', name: `benchAttemptCounter${label}`, override: true } as never,
    );
    return this;
  }

  get total(): number {
    return Object.values(this.requests).reduce((a, b) => a + b, 0);
  }

  reset(): void {
    this.requests = {};
    this.attempts = 0;
  }

  snapshot(): { total: number; attempts: number; byOperation: Record<string, number> } {
    return {
      total: this.total,
      attempts: this.attempts,
      byOperation: Object.fromEntries(Object.entries(this.requests).sort()),
    };
  }
}

/**
 * Counts the HTTP requests of this process whose `X-Amz-Target` starts with `prefix` (e.g.
 * `DynamoDBStreams_`), from Node's `http.client.request.start` diagnostics channel: it sees
 * clients built out of reach (the local stream poller's) without touching them.
 */
export class HttpTargetCounter {
  total = 0;
  private readonly listener = (message: unknown) => {
    const target = (message as { request: ClientRequest }).request.getHeader('x-amz-target');
    if (typeof target === 'string' && target.startsWith(this.prefix)) this.total++;
  };

  constructor(private readonly prefix: string) {
    subscribe('http.client.request.start', this.listener);
  }

  reset(): void {
    this.total = 0;
  }

  close(): void {
    unsubscribe('http.client.request.start', this.listener);
  }
}
