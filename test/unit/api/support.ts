import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { handleApiEvent } from '#api/http.ts';
import type { ApiDeps } from '#api/routes.ts';
import type { SimulatedCluster } from '#cluster/simulated/simulated-cluster.ts';
import type { WorkflowInput } from '#domain/step-contract.ts';
import { createMemoryStores } from '#store/memory.ts';
import type { StorePorts } from '#store/ports.ts';
import {
  executionName,
  type ExecutionLiveness,
  type StartedExecution,
  type WorkflowStarter,
} from '#app/starter.ts';
import { memorySimulation } from '#test/memory-simulation.ts';

export const NOW = new Date('2024-12-23T12:00:00.000Z');

/** A starter that records every call and, like Step Functions, starts each execution name once. */
export class RecordingStarter implements WorkflowStarter {
  readonly calls: WorkflowInput[] = [];
  readonly started = new Set<string>();
  /** Executions (ARNs) that Step Functions would describe as RUNNING. */
  readonly live = new Set<string>();
  readonly stopped: { executionArn: string; cause: string }[] = [];

  async describe(executionArn: string): Promise<ExecutionLiveness> {
    return this.live.has(executionArn)
      ? { running: true }
      : { running: false, status: 'FAILED', stoppedAt: '2024-12-23T11:00:00.000Z' };
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    this.stopped.push({ executionArn, cause });
    this.live.delete(executionArn);
  }

  async start(input: WorkflowInput): Promise<StartedExecution> {
    this.calls.push(input);
    const name = executionName(input.clusterId, input.incidentId);
    const alreadyStarted = this.started.has(name);
    this.started.add(name);
    return {
      executionName: name,
      executionArn: `arn:aws:states:us-east-1:000000000000:execution:recoverseg:${name}`,
      alreadyStarted,
    };
  }
}

export interface ApiHarness {
  deps: ApiDeps;
  stores: StorePorts;
  starter: RecordingStarter;
  /** The simulated cluster the API's simulator creates and breaks. */
  sim(clusterId: string): SimulatedCluster;
  errors: { message: string; details: Record<string, unknown> }[];
  call(
    method: string,
    path: string,
    options?: { body?: unknown; raw?: string; query?: Record<string, string> },
  ): Promise<ApiReply>;
}

export interface ApiReply {
  status: number;
  body: Record<string, unknown> & { error?: string; path?: string; name?: string };
  headers: Record<string, string>;
}

/** The API over the memory store and in-memory zero-time simulations. */
export function apiHarness(options: { simulator?: boolean } = {}): ApiHarness {
  const stores = createMemoryStores();
  const starter = new RecordingStarter();
  const { sim, simulator } = memorySimulation(() => NOW.getTime());
  const deps: ApiDeps = {
    stores,
    starter,
    simulator: options.simulator === false ? undefined : simulator,
    now: () => NOW,
  };
  const errors: ApiHarness['errors'] = [];
  const log = {
    error: (message: string, details: Record<string, unknown>) =>
      void errors.push({ message, details }),
  };
  return {
    deps,
    stores,
    starter,
    sim,
    errors,
    async call(method, path, { body, raw, query } = {}) {
      const result = await handleApiEvent(
        deps,
        apiEvent(method, path, raw ?? (body === undefined ? null : JSON.stringify(body)), query),
        log,
      );
      return reply(result);
    },
  };
}

export function apiEvent(
  method: string,
  path: string,
  body: string | null,
  query?: Record<string, string>,
): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: '/{proxy+}',
    body,
    isBase64Encoded: false,
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  };
}

export function reply(result: APIGatewayProxyResult): ApiReply {
  return {
    status: result.statusCode,
    body: JSON.parse(result.body) as ApiReply['body'],
    headers: (result.headers ?? {}) as Record<string, string>,
  };
}
