import { EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { describe, expect, it, vi } from 'vitest';
import { lambdaEnvironment } from './support.ts';

const ec2 = mockClient(EC2Client);
const route53 = mockClient(Route53Client);
const MDW = 'i-0123456789abcdef0';

describe('workflowDeps on AWS', () => {
  it('builds the EC2 fence and the Route 53 endpoint from the stack settings, and refuses bad ones', async () => {
    lambdaEnvironment({ CLUSTER_HOST_INSTANCES: '{"mdw":"i-0123456789abcdef0","smdw":"arn:aws"}' });
    const { workflowDeps } = await import('#lambdas/common/workflow-task.ts');
    const sdks = {
      ec2: () => import('@aws-sdk/client-ec2'),
      route53: () => import('@aws-sdk/client-route-53'),
    };
    // Nothing is half built: the container fails at its first step, naming the variable.
    expect(() => workflowDeps('FenceCoordinator', sdks)).toThrow(
      /CLUSTER_HOST_INSTANCES\.smdw: must be/,
    );
    lambdaEnvironment({
      CLUSTER_HOST_INSTANCES: '{"mdw":"i-0123456789abcdef0","smdw":"i-0fedcba9876543210"}',
      COORDINATOR_RECORD: 'Z0123456789ABCDEFGHIJ/gp.example.com/30',
    });
    const deps = workflowDeps('FenceCoordinator', sdks);
    expect(deps.instances?.instanceOf('mdw')).toBe(MDW);
    ec2.on(StopInstancesCommand).resolves({});
    await deps.instances?.stop(MDW);
    expect(ec2).toHaveReceivedCommandWith(StopInstancesCommand, {
      InstanceIds: [MDW],
      Force: true,
    });

    expect(deps.clients).toMatchObject({ how: 'route53', endpoint: 'gp.example.com' });
    route53.on(ChangeResourceRecordSetsCommand).resolves({});
    await deps.clients?.move({
      dbid: 10,
      content: -1,
      role: 'p',
      preferred_role: 'p',
      mode: 'n',
      status: 'u',
      port: 5432,
      hostname: 'smdw',
      address: '10.0.1.12',
      datadir: '/data/master/gpseg-1',
    });
    expect(route53).toHaveReceivedCommandTimes(ChangeResourceRecordSetsCommand, 1);
  });

  it("takes serve's --client-hook (COORDINATOR_CLIENT_HOOK) over a Route 53 record", async () => {
    vi.resetModules();
    lambdaEnvironment({
      CLUSTER_HOST_INSTANCES: '{}',
      COORDINATOR_RECORD: 'Z0123456789ABCDEFGHIJ/gp.example.com/30',
      COORDINATOR_CLIENT_HOOK: '/usr/local/bin/move-vip',
    });
    try {
      const { workflowDeps } = await import('#lambdas/common/workflow-task.ts');
      const deps = workflowDeps('MoveClients', {
        route53: () => import('@aws-sdk/client-route-53'),
      });
      expect(deps.clients).toMatchObject({ how: 'hook', endpoint: '/usr/local/bin/move-vip' });
      expect(deps.instances).toBeUndefined();
    } finally {
      delete process.env.COORDINATOR_CLIENT_HOOK;
      delete process.env.COORDINATOR_RECORD;
      delete process.env.CLUSTER_HOST_INSTANCES;
    }
  });
});
