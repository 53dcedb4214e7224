import { describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { CfnSchedule } from 'aws-cdk-lib/aws-scheduler';
import { watchRequestSchema } from '#domain/watch.ts';
import { RecoverSegStack } from '#infra/stack.ts';
import { WATCHER_ERRORS, WATCH_METRICS } from '#lambdas/common/watch-metrics.ts';
import { BACKENDS, synthesizedApp } from '#test/infra/synth.ts';

const simulated = synthesizedApp('simulated');
const ssm = synthesizedApp('ssm');
const { stack, template, id } = simulated;
const fn = stack.lambdas.WatchCluster.fn;
const topic = { Ref: id(stack.topic) };
const fnArn = { 'Fn::GetAtt': [id(fn), 'Arn'] };

/** The stack of a context, built without bundling or a synth: only its constructs are read. */
const built = (context: Record<string, unknown>) =>
  new RecoverSegStack(
    new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } }),
    'RecoverSeg',
  );
const expressionOf = (s: RecoverSegStack) =>
  (s.watcher.schedule?.node.defaultChild as CfnSchedule | undefined)?.scheduleExpression;

describe('the schedule', () => {
  it('invokes WatchCluster every minute with the cluster, in a group of its own, never retrying a look', () => {
    const [schedule, ...more] = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    expect(more).toEqual([]);
    expect(schedule!.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      GroupName:
        template.toJSON().Resources[id(stack.watcher.node.findChild('Group'))].Properties.Name,
      Target: {
        Arn: fnArn,
        RoleArn: { 'Fn::GetAtt': [id(stack.watcher.node.findChild('ScheduleRole')), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
    expect(schedule!.DependsOn).toContain(id(stack.watcher.node.findChild('Group')));
    // What it sends is what the handler parses.
    const input = JSON.parse(schedule!.Properties.Target.Input as string) as unknown;
    expect(input).toEqual({ clusterId: 'seed' });
    expect(watchRequestSchema.parse(input)).toEqual(input);
  });

  it('watches the cluster a real deployment drives', () => {
    const [schedule] = Object.values(ssm.template.findResources('AWS::Scheduler::Schedule'));
    expect(JSON.parse(schedule!.Properties.Target.Input as string)).toEqual({ clusterId: 'prod' });
  });

  it('assumes a role only schedules of its group may assume, which invokes WatchCluster and nothing else', () => {
    const role = stack.watcher.node.findChild('ScheduleRole');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: {
              StringEquals: {
                'aws:SourceAccount': { Ref: 'AWS::AccountId' },
                'aws:SourceArn': {
                  'Fn::GetAtt': [id(stack.watcher.node.findChild('Group')), 'Arn'],
                },
              },
            },
          },
        ],
      },
    });
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes(id(role)),
    );
    expect(policies.map((p) => p.Properties.PolicyDocument.Statement)).toEqual([
      [{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: fnArn }],
    ]);
  });

  it('looks every recoverseg:watchMinutes minutes, not at all with 0, and refuses anything else', () => {
    expect(expressionOf(built({ ...BACKENDS.simulated, 'recoverseg:watchMinutes': '5' }))).toBe(
      'rate(5 minutes)',
    );
    const off = built({ ...BACKENDS.simulated, 'recoverseg:watchMinutes': 0 });
    expect(off.watcher.schedule).toBeUndefined();
    expect(off.watcher.alarms).toEqual({});
    for (const bad of ['-1', '1.5', 'hourly', '1441'])
      expect(() => built({ ...BACKENDS.simulated, 'recoverseg:watchMinutes': bad })).toThrow(
        /context recoverseg:watchMinutes must be a whole number of minutes from 0 \(no watcher\) to 1440/,
      );
  });

  it('has nothing to watch without a cluster, and refuses a cluster id a look could not parse', () => {
    expect(built({ 'recoverseg:clusterBackend': 'simulated' }).watcher.schedule).toBeUndefined();
    expect(() => built({ ...BACKENDS.simulated, 'recoverseg:clusterId': '../prod' })).toThrow(
      /context recoverseg:clusterId must be a cluster id/,
    );
  });
});

describe('WatchCluster', () => {
  const statements = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(id(stack.lambdas.WatchCluster.role)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]);
  const actions = statements.flatMap((s) => [s.Action].flat());

  it('reads and appends the log, reads the lock, starts and describes runs, and publishes: never the projection', () => {
    expect(actions).toEqual(
      expect.arrayContaining([
        'dynamodb:Query',
        'dynamodb:PutItem',
        'states:StartExecution',
        'states:DescribeExecution',
        'sns:Publish',
      ]),
    );
    expect(JSON.stringify(statements)).not.toContain(id(stack.tables.configuration));
    expect(actions).not.toContain('states:StopExecution');
  });

  it('is not retried by Lambda either: the next look comes within the interval', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id(fn) },
      MaximumRetryAttempts: 0,
    });
  });
});

describe('alarms on what the looks publish', () => {
  const dimensions = [
    { Name: 'ClusterId', Value: 'seed' },
    { Name: 'service', Value: 'recoverseg' },
  ];
  const alarm = (metric: string, properties: Record<string, unknown>) =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'recoverseg',
      MetricName: metric,
      Dimensions: Match.arrayWith(dimensions.map((d) => Match.objectLike(d))),
      Period: 60,
      AlarmActions: [topic],
      OKActions: [topic],
      ...properties,
    });

  it('a segment down at one look', () =>
    alarm('SegmentsDown', {
      Statistic: 'Maximum',
      Threshold: 0,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    }));

  it('a double fault at one look', () =>
    alarm('DoubleFaults', {
      Statistic: 'Maximum',
      Threshold: 0,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    }));

  it('three failed looks in a row', () =>
    alarm(WATCHER_ERRORS, {
      Statistic: 'Sum',
      Threshold: 1,
      EvaluationPeriods: 3,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    }));

  it('no look at all for three intervals: missing data breaches, the watcher itself stopped', () =>
    alarm(WATCHER_ERRORS, {
      Statistic: 'SampleCount',
      Threshold: 1,
      EvaluationPeriods: 3,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    }));

  it('are on the dashboard, with every metric of every cluster a look publishes', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const name of [...WATCH_METRICS.map((m) => m.name), WATCHER_ERRORS])
      expect(body).toContain(
        `SEARCH('{recoverseg,ClusterId,service} MetricName=\\\\\\"${name}\\\\\\"'`,
      );
    for (const a of Object.values(stack.watcher.alarms)) expect(body).toContain(id(a));
  });
});
