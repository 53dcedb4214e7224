import type * as route53 from '@aws-sdk/client-route-53';
import { clientOnFirstUse } from '#cluster/aws/client-on-first-use.ts';
import type { SegmentRow } from '#domain/segment.ts';

/** The coordinator's Route 53 record, as the stack writes it for MoveClients: `ZONE/name/ttl`. */
export const COORDINATOR_RECORD_ENV = 'COORDINATOR_RECORD';

export interface CoordinatorRecord {
  hostedZoneId: string;
  /** Lowercase, no trailing dot: Route 53's normalized form, which IAM conditions compare. */
  name: string;
  ttl: number;
}

/** What the record may become: the new coordinator's address, a name or an IPv4 address. */
export const RECORD_TYPES = ['A', 'CNAME'] as const;

export class InvalidCoordinatorRecord extends Error {
  override name = 'InvalidCoordinatorRecord';
}

/** Route 53 refused the change (a conflicting record, no such zone): clients still go to the old one. */
export class ClientEndpointNotMoved extends Error {
  override name = 'ClientEndpointNotMoved';
}

const ZONE_ID = /^Z[A-Z0-9]{1,31}$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** Clients cache the record this long: a minute by default, a day at most. */
const DEFAULT_TTL = 60;
const MAX_TTL = 86_400;

/** A DNS name with at least two labels and a top-level label that is not all digits, normalized. */
function dnsName(text: string): string | undefined {
  const name = text.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || /^\d+$/.test(labels.at(-1)!)) return undefined;
  return labels.every((l) => LABEL.test(l)) ? name : undefined;
}

/**
 * `HOSTED_ZONE_ID/record.name[/TTL]`, e.g. `Z0123456789ABCDEFGHIJ/gp.example.com/60`: one string
 * in cdk.json, on the command line (`-c recoverseg:coordinatorRecord=…`) and in the environment.
 */
export function parseCoordinatorRecord(text: string): CoordinatorRecord {
  const shape = `must be HOSTED_ZONE_ID/record.name[/TTL] (for example Z0123456789ABCDEFGHIJ/gp.example.com/60)`;
  const parts = text.split('/');
  if (text.length > 400 || parts.length < 2 || parts.length > 3)
    throw new InvalidCoordinatorRecord(`${shape}, got ${JSON.stringify(text.slice(0, 80))}`);
  const [hostedZoneId, recordName, ttlText] = parts as [string, string, string | undefined];
  if (!ZONE_ID.test(hostedZoneId))
    throw new InvalidCoordinatorRecord(
      `${shape}: ${JSON.stringify(hostedZoneId)} is not a hosted zone id (Z followed by capital letters and digits, without /hostedzone/)`,
    );
  const name = dnsName(recordName);
  if (name === undefined)
    throw new InvalidCoordinatorRecord(
      `${shape}: ${JSON.stringify(recordName)} is not a record name (labels of letters, digits, "-", "_"; no wildcard)`,
    );
  const ttl = ttlText === undefined ? DEFAULT_TTL : Number(ttlText);
  if (!/^\d+$/.test(ttlText ?? String(DEFAULT_TTL)) || ttl < 1 || ttl > MAX_TTL)
    throw new InvalidCoordinatorRecord(
      `${shape}: the TTL must be whole seconds from 1 to ${MAX_TTL}, got ${JSON.stringify(ttlText)}`,
    );
  return { hostedZoneId, name, ttl };
}

export const formatCoordinatorRecord = (r: CoordinatorRecord): string =>
  `${r.hostedZoneId}/${r.name}/${r.ttl}`;

/** The record's new value: an A record for an IPv4 address, a CNAME for a name DNS can resolve. */
export function recordFor(
  record: CoordinatorRecord,
  to: SegmentRow,
): { type: (typeof RECORD_TYPES)[number]; value: string } {
  if (IPV4.test(to.address)) return { type: 'A', value: to.address };
  const value = dnsName(to.address);
  if (value === undefined || value === record.name)
    throw new ClientEndpointNotMoved(
      `record ${record.name}: the new coordinator dbid ${to.dbid} has address ${JSON.stringify(to.address)} in the catalog, ` +
        `neither an IPv4 address nor a fully qualified name the record can point at (a CNAME to a single label such as "smdw" never resolves); ` +
        `point ${record.name} at ${to.hostname} yourself`,
    );
  return { type: 'CNAME', value };
}

export type Route53Sdk = typeof route53;

/**
 * The application's ClientEndpoint on AWS: clients find the coordinator through one Route 53
 * record, UPSERTed to the activated standby. It does not wait for the change to be INSYNC: once
 * ChangeResourceRecordSets answers, Route 53 has accepted the change durably (it is PENDING only
 * while it reaches every authoritative server, usually within a minute), and a client sees it
 * only after its cached answer's TTL anyway; polling GetChange would hold the run for that
 * minute, need one more permission, and tell nothing more. `sdk` loads the Route 53 client, in
 * MoveClients only (the one function that has the record and the permission), on its first move.
 */
export class Route53Endpoint {
  readonly how = 'route53' as const;
  readonly endpoint: string;
  private readonly route53: () => Promise<{ sdk: Route53Sdk; client: route53.Route53Client }>;

  constructor(
    private readonly record: CoordinatorRecord,
    sdk: () => Promise<Route53Sdk>,
  ) {
    this.endpoint = record.name;
    this.route53 = clientOnFirstUse(sdk, (loaded) => new loaded.Route53Client({}));
  }

  async move(to: SegmentRow): Promise<void> {
    const { type, value } = recordFor(this.record, to);
    const { sdk, client } = await this.route53();
    try {
      await client.send(
        new sdk.ChangeResourceRecordSetsCommand({
          HostedZoneId: this.record.hostedZoneId,
          ChangeBatch: {
            Comment: `recoverseg: the coordinator is now dbid ${to.dbid} on ${to.hostname}`,
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: {
                  Name: this.record.name,
                  Type: type,
                  TTL: this.record.ttl,
                  ResourceRecords: [{ Value: value }],
                },
              },
            ],
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof Error) || !REFUSALS.has(error.name)) throw error;
      throw new ClientEndpointNotMoved(
        `record ${this.record.name} (${type} ${value}) in hosted zone ${this.record.hostedZoneId}: Route 53 refused the UPSERT, ${error.name}: ${error.message.slice(0, 500)}; ` +
          `clients still reach the old coordinator through it: fix the record (a record of another type under that name blocks it) and point it at ${value} yourself`,
      );
    }
  }
}

/** Answers that retrying cannot change; throttling and PriorRequestNotComplete keep their names. */
const REFUSALS = new Set(['InvalidChangeBatch', 'NoSuchHostedZone', 'InvalidInput']);
