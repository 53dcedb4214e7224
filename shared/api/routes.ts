import * as z from '#domain/zod.ts';
import { configurationOf } from '#domain/evolve.ts';
import { clusterIdSchema, incidentIdSchema, type NewEvent } from '#domain/events.ts';
import { relocationProblems, runPhase } from '#domain/decisions.ts';
import { UnknownCluster, ValidationError } from '#domain/errors.ts';
import { registrationEvents } from '#domain/registration.ts';
import {
  renderConfigurationTable,
  renderGpstateErrors,
  renderGpstateMirrors,
} from '#domain/render.ts';
import { COLUMNS, type SegmentRow } from '#domain/segment.ts';
import { parseOrThrow } from '#domain/validation.ts';
import { workflowInputSchema } from '#domain/step-contract.ts';
import { SimulatedClusterExists } from '#cluster/simulated/errors.ts';
import type { StorePorts } from '#store/ports.ts';
import type { WorkflowStarter } from '#app/starter.ts';
import { executionName } from '#app/starter.ts';
import {
  approveRebalance,
  cancelRecovery,
  setRecoveryPolicy,
  supersedeDeadHolder,
} from '#app/control.ts';
import type { ClusterOperations, Simulator } from '#cluster/port.ts';
import {
  apiRecoverRequestSchema,
  approvalRequestSchema,
  cancelRequestSchema,
  faultSchema,
  policyRequestSchema,
  coordinatorPolicyRequestSchema,
  rebalanceSetting,
  recoveryPolicyRequestSchema,
  registerRequestSchema,
  unknownHosts,
} from '#domain/requests.ts';
import { recoveryPolicyOf, wholeness } from '#domain/watch.ts';
import type { LastLook } from '#app/watch.ts';
import { approveActivation, setCoordinatorPolicy } from '#app/coordinator-control.ts';
import { coordinatorPolicyOf } from '#domain/coordinator.ts';

export interface ApiDeps {
  stores: StorePorts;
  starter: WorkflowStarter;
  /** Present only where the cluster backend is simulated. */
  simulator: Simulator | undefined;
  now: () => Date;
  /**
   * The cluster itself, where this process can reach it (`serve`): a cancel then says whether
   * a gprecoverseg still runs. Absent behind API Gateway.
   */
  cluster?: (clusterId: string) => ClusterOperations;
  /** The watcher's last look at a cluster, where it runs in this process (`serve`). */
  lastLook?: (clusterId: string) => LastLook | undefined;
}

export interface ApiRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  /** Parsed JSON body (undefined when none). */
  body: unknown;
  /** The authenticated caller (API Gateway's IAM principal), when known. */
  caller?: string;
}

export interface ApiResponse {
  statusCode: number;
  body: unknown;
}

export class NotFound extends Error {
  override name = 'NotFound';
}

/** The request contradicts what the log already holds (a second, different registration). */
export class Conflict extends Error {
  override name = 'Conflict';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** Who asks: the name the caller gives, and the authenticated principal when there is one. */
const actor = (request: ApiRequest, by: string | undefined): string =>
  (by && request.caller ? `${by} (${request.caller})` : (by ?? request.caller ?? 'api')).slice(
    0,
    200,
  );

/** Query numbers are plain decimal digits: no `""` read as 0, no `1e3`, no `0x10`. */
const wholeNumber = z.pipe(
  z.string().check(z.regex(/^[0-9]{1,15}$/, 'must be a whole number')),
  z.transform(Number),
);
const seqQuery = wholeNumber;
const limitQuery = z.pipe(wholeNumber, z.int().check(z.minimum(1), z.maximum(1000)));

const rowKey = (row: SegmentRow): string => JSON.stringify(COLUMNS.map((c) => row[c]));

/** A repeated registration must repeat the registered configuration, not replace it. */
async function assertSameRegistration(
  deps: ApiDeps,
  clusterId: string,
  lastSeq: number,
  segments: readonly SegmentRow[],
): Promise<void> {
  const registered = (await deps.stores.events.read(clusterId, { toSeq: lastSeq }))
    .flatMap((e) => (e.type === 'ClusterRegistered' ? e.data.segments : []))
    .map(rowKey);
  const asked = registrationEvents(segments)
    .flatMap((e) => (e.type === 'ClusterRegistered' ? e.data.segments : []))
    .map(rowKey);
  if (registered.length !== asked.length || registered.some((row, i) => row !== asked[i]))
    throw new Conflict(
      `body.segments: cluster ${clusterId} is already registered with a different configuration (${registered.length} segments); a registered cluster changes only through its events`,
      'body.segments',
    );
}

/** Hosts a request names must be hosts of the cluster. */
function assertHostsKnown(
  rows: readonly SegmentRow[],
  clusterId: string,
  hosts: readonly string[],
  path: (i: number) => string,
): void {
  const [unknown] = unknownHosts(rows, hosts);
  if (unknown)
    throw new ValidationError(
      `${path(unknown.index)}: host ${unknown.host} runs no segment of cluster ${clusterId}; name a host from gp_segment_configuration`,
      path(unknown.index),
    );
}

async function registered(deps: ApiDeps, clusterId: string) {
  parseOrThrow(clusterIdSchema, clusterId, 'clusterId');
  const projected = await deps.stores.projection.read(clusterId);
  if (projected.state.seq > 0) return projected;
  // The projector may lag right after registration: the log decides.
  const state = await deps.stores.events.loadState(clusterId);
  if (state.segments.size === 0) throw new UnknownCluster(clusterId);
  return { state, rows: configurationOf(state) };
}

type Handler = (
  deps: ApiDeps,
  request: ApiRequest,
  params: Record<string, string>,
) => Promise<ApiResponse>;

/** A registered cluster as the list shows it: its summary item in Configuration. */
export interface ClusterListing {
  clusterId: string;
  seq: number;
  recovery: { incidentId: string } | null;
  lastIncident: { incidentId: string; status: string } | null;
  doubleFaults: number[];
}

/** Every cluster with a projected summary, by id. */
async function listClusters(deps: ApiDeps): Promise<ClusterListing[]> {
  const clusters = (await deps.stores.projection.list()).map((summary): ClusterListing => ({
    ...summary,
    recovery: summary.recovery ?? null,
    lastIncident: summary.lastIncident ?? null,
  }));
  return clusters.sort((a, b) => a.clusterId.localeCompare(b.clusterId));
}

/** Every route of the API, the same behind API Gateway and on `recoverseg serve`. */
export const ROUTES: readonly { method: string; path: string; handler: Handler }[] = [
  {
    method: 'GET',
    path: '/clusters',
    handler: async (deps) => ({ statusCode: 200, body: { clusters: await listClusters(deps) } }),
  },
  {
    method: 'POST',
    path: '/clusters',
    handler: async (deps, request) => {
      const body = parseOrThrow(registerRequestSchema, request.body, 'body');
      if (body.simulation && !deps.simulator)
        throw new ValidationError(
          'body.simulation: this deployment drives a real cluster; simulation options are for the simulated backend',
          'body.simulation',
        );
      deps.simulator?.validate(body.simulation ?? {});
      const setting = rebalanceSetting(body.rebalancePolicy, body.rebalanceWindow);
      const events: NewEvent[] = [
        ...registrationEvents(body.segments),
        ...(setting ? [{ type: 'RebalancePolicySet' as const, data: { setting } }] : []),
        ...(body.recoveryPolicy
          ? [{ type: 'RecoveryPolicySet' as const, data: { policy: body.recoveryPolicy } }]
          : []),
      ];
      const result = await deps.stores.events.append(body.clusterId, events, {
        expectedSeq: 0,
        idempotencyKey: `register/${body.clusterId}`,
        causation: { actor: 'api' },
        at: deps.now().toISOString(),
      });
      if (result.duplicate)
        await assertSameRegistration(deps, body.clusterId, result.lastSeq, body.segments);
      try {
        // A retry after a failed create still creates the simulation: the log alone is not the cluster.
        // Two racing registrations of one cluster create it once; the loser finds it there.
        await deps.simulator?.create(body.clusterId, body.segments, body.simulation ?? {});
      } catch (error) {
        if (!(error instanceof SimulatedClusterExists)) throw error;
      }
      return {
        statusCode: result.duplicate ? 200 : 201,
        body: { clusterId: body.clusterId, seq: result.lastSeq, segments: body.segments.length },
      };
    },
  },
  {
    method: 'GET',
    path: '/clusters/{clusterId}/configuration',
    handler: async (deps, request, { clusterId }) => {
      const asOf =
        request.query.seq === undefined
          ? undefined
          : parseOrThrow(seqQuery, request.query.seq, 'query.seq');
      const { state, rows } =
        asOf === undefined
          ? await registered(deps, clusterId!)
          : await (async () => {
              await registered(deps, clusterId!);
              const s = await deps.stores.events.loadState(clusterId!, { toSeq: asOf });
              return { state: s, rows: configurationOf(s) };
            })();
      return {
        statusCode: 200,
        body: { clusterId, seq: state.seq, rows, table: renderConfigurationTable(rows) },
      };
    },
  },
  {
    method: 'GET',
    path: '/clusters/{clusterId}/events',
    handler: async (deps, request, { clusterId }) => {
      await registered(deps, clusterId!);
      const after =
        request.query.after === undefined
          ? 0
          : parseOrThrow(seqQuery, request.query.after, 'query.after');
      const limit =
        request.query.limit === undefined
          ? 100
          : parseOrThrow(limitQuery, request.query.limit, 'query.limit');
      const events = await deps.stores.events.read(clusterId!, {
        afterSeq: after,
        toSeq: after + limit,
      });
      return {
        statusCode: 200,
        body: { clusterId, events, next: events.length === limit ? after + limit : null },
      };
    },
  },
  {
    method: 'GET',
    path: '/clusters/{clusterId}/status',
    handler: async (deps, _request, { clusterId }) => {
      const { state, rows } = await registered(deps, clusterId!);
      return {
        statusCode: 200,
        body: {
          clusterId,
          seq: state.seq,
          phase: runPhase(state) ?? null,
          recovery: state.recovery ?? null,
          lastIncident: state.lastIncident ?? null,
          rebalancePolicy: state.rebalancePolicy ?? null,
          recoveryPolicy: recoveryPolicyOf(state),
          watch: { ...wholeness(state), lastLook: deps.lastLook?.(clusterId!) ?? null },
          coordinator: { ...state.coordinator, policy: coordinatorPolicyOf(state) },
          doubleFaults: state.doubleFaults,
          gpstateMirrors: renderGpstateMirrors(rows),
          gpstateErrors: renderGpstateErrors(state),
        },
      };
    },
  },
  {
    method: 'POST',
    path: '/clusters/{clusterId}/recoveries',
    handler: async (deps, request, { clusterId }) => {
      const { rows, state } = await registered(deps, clusterId!);
      const body = parseOrThrow(apiRecoverRequestSchema, request.body ?? {}, 'body');
      if (body.kind === 'standby' && !body.standby)
        throw new ValidationError(
          'body.standby: a standby run needs where to create it: hostname, address, port, datadir',
          'body.standby',
        );
      // A window policy needs a window: the request's or the cluster's (refused here, not
      // when the run starts).
      rebalanceSetting(
        body.rebalancePolicy,
        body.rebalanceWindow,
        state.rebalancePolicy?.policy === 'window' ? state.rebalancePolicy.window : undefined,
      );
      const incidentId =
        body.incidentId ??
        `api-${deps
          .now()
          .toISOString()
          .replace(/[^0-9]/g, '')
          .slice(0, 14)}`;
      const input = parseOrThrow(
        workflowInputSchema,
        {
          clusterId,
          incidentId,
          ...(body.kind ? { kind: body.kind } : {}),
          ...(body.standby ? { standby: body.standby } : {}),
          trigger: body.trigger ?? { source: 'api' },
          options: {
            type: body.type,
            targetHosts: body.targetHosts,
            rebalance: body.rebalance,
            dryRun: body.dryRun,
            replayLagGb: body.replayLagGb,
            ...(body.rebalancePolicy ? { rebalancePolicy: body.rebalancePolicy } : {}),
            ...(body.rebalanceWindow ? { rebalanceWindow: body.rebalanceWindow } : {}),
          },
          failedHosts: body.failedHosts ?? [],
          ...(body.waits ? { waits: body.waits } : {}),
          ...(body.limits ? { limits: body.limits } : {}),
        },
        'body',
      );
      const [relocation] = relocationProblems(input.options);
      if (relocation)
        throw new ValidationError(`body.targetHosts: ${relocation}`, 'body.targetHosts');
      assertHostsKnown(
        rows,
        clusterId!,
        Object.keys(input.options.targetHosts),
        () => 'body.targetHosts',
      );
      assertHostsKnown(rows, clusterId!, input.failedHosts, (i) => `body.failedHosts[${i}]`);
      // A live run of another incident is a 409 naming it; a dead one is closed on record
      // first, so the new run really starts (never a 202 that does nothing).
      await supersedeDeadHolder(deps, clusterId!, {
        executionName: executionName(clusterId!, incidentId),
        by: `incident ${incidentId}`,
      });
      const started = await deps.starter.start(input);
      return {
        statusCode: started.alreadyStarted ? 200 : 202,
        body: { clusterId, incidentId, ...started },
      };
    },
  },
  {
    method: 'PUT',
    path: '/clusters/{clusterId}/rebalance-policy',
    handler: async (deps, request, { clusterId }) => {
      await registered(deps, clusterId!);
      const body = parseOrThrow(policyRequestSchema, request.body ?? {}, 'body');
      const setting = rebalanceSetting(body.rebalancePolicy, body.rebalanceWindow)!;
      const who = actor(request, undefined);
      const { lastSeq } = await deps.stores.events.readHead(clusterId!);
      const result = await deps.stores.events.append(
        clusterId!,
        [{ type: 'RebalancePolicySet', data: { setting } }],
        {
          expectedSeq: lastSeq,
          idempotencyKey: `policy/${JSON.stringify(setting)}@${lastSeq}`,
          causation: { actor: who },
          at: deps.now().toISOString(),
        },
      );
      return {
        statusCode: 200,
        body: { clusterId, rebalancePolicy: setting, seq: result.lastSeq },
      };
    },
  },
  {
    method: 'PUT',
    path: '/clusters/{clusterId}/recovery-policy',
    handler: async (deps, request, { clusterId }) => {
      await registered(deps, clusterId!);
      const body = parseOrThrow(recoveryPolicyRequestSchema, request.body ?? {}, 'body');
      const set = await setRecoveryPolicy(deps, clusterId!, {
        policy: body.recoveryPolicy,
        by: actor(request, body.by),
      });
      return { statusCode: 200, body: set };
    },
  },
  {
    method: 'PUT',
    path: '/clusters/{clusterId}/coordinator-policy',
    handler: async (deps, request, { clusterId }) => {
      await registered(deps, clusterId!);
      const body = parseOrThrow(coordinatorPolicyRequestSchema, request.body ?? {}, 'body');
      const set = await setCoordinatorPolicy(deps, clusterId!, {
        policy: body.coordinatorPolicy,
        ...(body.maxObservationAgeSeconds
          ? { maxObservationAgeSeconds: body.maxObservationAgeSeconds }
          : {}),
        ...(body.newStandby ? { newStandby: body.newStandby } : {}),
        by: actor(request, body.by),
      });
      return { statusCode: 200, body: set };
    },
  },
  {
    method: 'POST',
    path: '/clusters/{clusterId}/cancellation',
    handler: async (deps, request, { clusterId }) => {
      await registered(deps, clusterId!);
      const body = parseOrThrow(cancelRequestSchema, request.body ?? {}, 'body');
      const cancelled = await cancelRecovery(deps, clusterId!, {
        by: actor(request, body.by),
        reason: body.reason ?? 'cancelled by an operator',
        ...(body.incidentId ? { incidentId: body.incidentId } : {}),
      });
      return { statusCode: 202, body: cancelled };
    },
  },
  {
    method: 'POST',
    path: '/clusters/{clusterId}/rebalance-approval',
    handler: async (deps, request, { clusterId }) => {
      await registered(deps, clusterId!);
      // The log, not the projection that may lag: what waits for the approval now.
      const state = await deps.stores.events.loadState(clusterId!);
      const body = parseOrThrow(approvalRequestSchema, request.body ?? {}, 'body');
      const asked = {
        by: actor(request, body.by),
        ...(body.incidentId ? { incidentId: body.incidentId } : {}),
      };
      // One approval for what waits: a coordinator activation, else a rebalance.
      const approved = state.coordinator?.failover
        ? await approveActivation(deps, clusterId!, asked)
        : await approveRebalance(deps, clusterId!, asked);
      return { statusCode: 202, body: approved };
    },
  },
  {
    method: 'GET',
    path: '/clusters/{clusterId}/recoveries/{incidentId}',
    handler: async (deps, _request, { clusterId, incidentId }) => {
      const { state } = await registered(deps, clusterId!);
      parseOrThrow(incidentIdSchema, incidentId, 'incidentId');
      const active = state.recovery?.incidentId === incidentId ? state.recovery : undefined;
      const last = state.lastIncident?.incidentId === incidentId ? state.lastIncident : undefined;
      if (!active && !last) {
        const events = await deps.stores.events.read(clusterId!);
        const seen = events.some(
          (e) => e.type === 'RecoveryRequested' && e.data.incidentId === incidentId,
        );
        if (!seen)
          throw new NotFound(
            `incident ${incidentId} of cluster ${clusterId} has no recovery on record`,
          );
      }
      const plan = active?.plan ?? [];
      return {
        statusCode: 200,
        body: {
          clusterId,
          incidentId,
          executionName: executionName(clusterId!, incidentId!),
          status: active ? 'running' : (last?.status ?? 'ended'),
          plan,
          started: active?.started ?? [],
          recovered: active?.recovered ?? [],
          failures: active?.failures ?? [],
          outcome: last ?? null,
        },
      };
    },
  },
  {
    method: 'POST',
    path: '/clusters/{clusterId}/faults',
    handler: async (deps, request, { clusterId }) => {
      const { rows } = await registered(deps, clusterId!);
      if (!deps.simulator)
        throw new ValidationError('faults can only be injected into a simulated cluster', 'path');
      const fault = parseOrThrow(faultSchema, request.body, 'body');
      if ('host' in fault) assertHostsKnown(rows, clusterId!, [fault.host], () => 'body.host');
      else if (!rows.some((r) => r.dbid === fault.dbid))
        throw new ValidationError(
          `body.dbid: dbid ${fault.dbid} is not in gp_segment_configuration of cluster ${clusterId}`,
          'body.dbid',
        );
      await deps.simulator.inject(clusterId!, fault);
      return { statusCode: 202, body: { clusterId, fault } };
    },
  },
];

function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.replace(/\/+$/, '').split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = got[i]!;
    if (part.startsWith('{')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(value);
      } catch {
        return undefined;
      }
      if (decoded.length === 0) return undefined;
      params[part.slice(1, -1)] = decoded;
    } else if (part !== value) return undefined;
  }
  return params;
}

/** Finds the route for a request: a handler, a 405 (path known, method not), or a 404. */
export function route(
  request: ApiRequest,
): { handler: Handler; params: Record<string, string> } | { status: 404 | 405; allowed: string[] } {
  const allowed: string[] = [];
  for (const r of ROUTES) {
    const params = match(r.path, request.path);
    if (!params) continue;
    if (r.method === request.method) return { handler: r.handler, params };
    allowed.push(r.method);
  }
  return { status: allowed.length > 0 ? 405 : 404, allowed };
}
