import { DescribeInstancesCommand, EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { Ec2Fence, fenceableInstance } from '#cluster/aws/ec2-fence.ts';

const ec2 = mockClient(EC2Client);
const MDW = 'i-0123456789abcdef0';
const SMDW = 'i-0fedcba9876543210';
const hosts = { mdw: MDW, smdw: SMDW };
const fence = () => new Ec2Fence(hosts, () => import('@aws-sdk/client-ec2'));
const described = (name: string) => ({
  Reservations: [{ Instances: [{ InstanceId: MDW, State: { Name: name as 'stopped' } }] }],
});

/** An EC2 error as the SDK throws it: its code is the name Step Functions and the fence match. */
const ec2Error = (name: string, message: string) => Object.assign(new Error(message), { name });

beforeEach(() => ec2.reset());

describe('which instance fences a host', () => {
  it('fences no host whose instance carries another host too (stopping it would stop both)', () => {
    const shared = { mdw: MDW, smdw: MDW, sdw1: SMDW };
    expect(fenceableInstance(shared, 'mdw')).toBeUndefined();
    expect(fenceableInstance(shared, 'smdw')).toBeUndefined();
    expect(fenceableInstance(shared, 'sdw1')).toBe(SMDW);
    expect(fenceableInstance(shared, 'sdw2')).toBeUndefined();
    expect(fenceableInstance(shared, '__proto__')).toBeUndefined();
  });

  it('fences no SSM managed node (mi-…): EC2 cannot stop it', () => {
    expect(fenceableInstance({ mdw: 'mi-0123456789abcdef0' }, 'mdw')).toBeUndefined();
  });
});

describe('the EC2 fence', () => {
  it('knows the instance of each coordinator host, and no other', () => {
    expect(fence().instanceOf('mdw')).toBe(MDW);
    expect(fence().instanceOf('smdw')).toBe(SMDW);
    expect(fence().instanceOf('sdw1')).toBeUndefined();
  });

  it('stops the one instance with Force, and reads its state', async () => {
    ec2.on(StopInstancesCommand).resolves({});
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('stopping'))
      .resolves(described('stopped'));
    const f = fence();
    await f.stop(MDW);
    expect(ec2).toHaveReceivedCommandExactlyOnceWith(StopInstancesCommand, {
      InstanceIds: [MDW],
      Force: true,
    });
    expect(await f.state(MDW)).toBe('stopping');
    expect(await f.state(MDW)).toBe('stopped');
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [MDW] });
  });

  it('reports an instance that stays stopping as stopping, and never stops it again by itself', async () => {
    ec2.on(StopInstancesCommand).resolves({});
    ec2.on(DescribeInstancesCommand).resolves(described('stopping'));
    const f = fence();
    await f.stop(MDW);
    for (let look = 0; look < 5; look++) expect(await f.state(MDW)).toBe('stopping');
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 1);
  });

  it('names the instance and its host when EC2 says it cannot be stopped (IncorrectInstanceState)', async () => {
    ec2
      .on(StopInstancesCommand)
      .rejects(
        ec2Error(
          'IncorrectInstanceState',
          `The instance '${MDW}' is not in a state from which it can be stopped.`,
        ),
      );
    await expect(fence().stop(MDW)).rejects.toMatchObject({
      name: 'InstanceNotStoppable',
      message: expect.stringMatching(
        /EC2 instance i-0123456789abcdef0 \(host mdw\) cannot be stopped now .*nothing was activated/,
      ),
    });
  });

  it('lets other EC2 errors through by their own name (throttling is for the state machine to retry)', async () => {
    ec2
      .on(StopInstancesCommand)
      .rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.'));
    await expect(fence().stop(MDW)).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    ec2.on(DescribeInstancesCommand).rejects(ec2Error('UnauthorizedOperation', 'no'));
    await expect(fence().state(MDW)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
  });

  it('says so when EC2 describes no such instance', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await expect(fence().state(SMDW)).rejects.toMatchObject({
      name: 'UnknownInstance',
      message: expect.stringMatching(
        /EC2 does not describe instance i-0fedcba9876543210 \(host smdw\)/,
      ),
    });
  });

  it('never calls EC2 for an instance that is not one of the deployment hosts', async () => {
    for (const hostile of ['i-00000000000000000', `${MDW} `, '*', 'i-0123456789abcdef0,i-1'])
      await expect(fence().stop(hostile), hostile).rejects.toMatchObject({
        name: 'UnknownInstance',
      });
    await expect(fence().state('i-00000000000000000')).rejects.toThrow(/recoverseg stops no other/);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('has no EC2 client where no loader was given (only FenceCoordinator stops instances)', async () => {
    await expect(new Ec2Fence(hosts).stop(MDW)).rejects.toThrow(
      /only FenceCoordinator stops instances/,
    );
    expect(new Ec2Fence(hosts).instanceOf('mdw')).toBe(MDW);
    expect(ec2.calls()).toHaveLength(0);
  });
});
