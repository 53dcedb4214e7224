import {
  ChangeResourceRecordSetsCommand,
  Route53Client,
  type ChangeResourceRecordSetsCommandInput,
  type RRType,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  Route53Endpoint,
  formatCoordinatorRecord,
  parseCoordinatorRecord,
} from '#cluster/aws/route53-endpoint.ts';
import type { SegmentRow } from '#domain/segment.ts';

const route53 = mockClient(Route53Client);
const RECORD = parseCoordinatorRecord('Z0123456789ABCDEFGHIJ/gp.example.com/30');
const endpoint = () => new Route53Endpoint(RECORD, () => import('@aws-sdk/client-route-53'));
/** The activated standby (dbid 10), content -1 `p` after gpactivatestandby. */
const standby = (address: string): SegmentRow => ({
  dbid: 10,
  content: -1,
  role: 'p',
  preferred_role: 'p',
  mode: 'n',
  status: 'u',
  port: 5432,
  hostname: 'smdw',
  address,
  datadir: '/data/master/gpseg-1',
});
const upsert = (Type: RRType, Value: string): ChangeResourceRecordSetsCommandInput => ({
  HostedZoneId: 'Z0123456789ABCDEFGHIJ',
  ChangeBatch: {
    Comment: 'recoverseg: the coordinator is now dbid 10 on smdw',
    Changes: [
      {
        Action: 'UPSERT',
        ResourceRecordSet: { Name: 'gp.example.com', Type, TTL: 30, ResourceRecords: [{ Value }] },
      },
    ],
  },
});
const route53Error = (name: string, message: string) => Object.assign(new Error(message), { name });

beforeEach(() => route53.reset());

describe('the coordinator record', () => {
  it('reads ZONE/name[/TTL], normalized (lowercase, no trailing dot), and writes what it reads', () => {
    expect(parseCoordinatorRecord('Z1ABC/GP.Example.com.')).toEqual({
      hostedZoneId: 'Z1ABC',
      name: 'gp.example.com',
      ttl: 60,
    });
    expect(parseCoordinatorRecord(formatCoordinatorRecord(RECORD))).toEqual(RECORD);
  });

  it('is on record as the record name', () => {
    expect(endpoint()).toMatchObject({ how: 'route53', endpoint: 'gp.example.com' });
  });
});

describe('moving clients through Route 53', () => {
  it('UPSERTs an A record to an IPv4 address, and waits for nothing', async () => {
    route53.on(ChangeResourceRecordSetsCommand).resolves({
      ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() },
    });
    await endpoint().move(standby('10.0.1.12'));
    expect(route53).toHaveReceivedCommandExactlyOnceWith(
      ChangeResourceRecordSetsCommand,
      upsert('A', '10.0.1.12'),
    );
    expect(route53.calls()).toHaveLength(1);
  });

  it('UPSERTs a CNAME to a fully qualified name, normalized', async () => {
    route53.on(ChangeResourceRecordSetsCommand).resolves({});
    await endpoint().move(standby('SMDW.internal.example.com'));
    expect(route53).toHaveReceivedCommandWith(
      ChangeResourceRecordSetsCommand,
      upsert('CNAME', 'smdw.internal.example.com'),
    );
  });

  it('refuses, without calling Route 53, an address no record can point at', async () => {
    for (const address of ['smdw', '10.0.1.300', '10.0.1', 'gp.example.com', 'a..b.com'])
      await expect(endpoint().move(standby(address)), address).rejects.toMatchObject({
        name: 'ClientEndpointNotMoved',
        message: expect.stringMatching(
          /record gp\.example\.com: the new coordinator dbid 10 has address/,
        ),
      });
    expect(route53.calls()).toHaveLength(0);
  });

  it("names the record and Route 53's answer when it refuses the change (a CNAME over an A record)", async () => {
    route53
      .on(ChangeResourceRecordSetsCommand)
      .rejects(
        route53Error(
          'InvalidChangeBatch',
          '[RRSet of type CNAME with DNS name gp.example.com. is not permitted because a conflicting RRSet of type A with the same DNS name already exists in zone example.com.]',
        ),
      );
    await expect(endpoint().move(standby('smdw.example.com'))).rejects.toMatchObject({
      name: 'ClientEndpointNotMoved',
      message: expect.stringMatching(
        /record gp\.example\.com \(CNAME smdw\.example\.com\) in hosted zone Z0123456789ABCDEFGHIJ: Route 53 refused the UPSERT, InvalidChangeBatch: .*conflicting RRSet of type A/,
      ),
    });
    route53
      .on(ChangeResourceRecordSetsCommand)
      .rejects(route53Error('NoSuchHostedZone', 'No hosted zone found'));
    await expect(endpoint().move(standby('10.0.1.12'))).rejects.toMatchObject({
      name: 'ClientEndpointNotMoved',
    });
  });

  it('lets throttling through by its own name, for the state machine to retry', async () => {
    route53
      .on(ChangeResourceRecordSetsCommand)
      .rejects(route53Error('PriorRequestNotComplete', 'wait'));
    await expect(endpoint().move(standby('10.0.1.12'))).rejects.toMatchObject({
      name: 'PriorRequestNotComplete',
    });
  });
});
