import { describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import { synthesizedApp } from '#test/infra/synth.ts';
import { INCIDENT_METRICS } from '#lambdas/common/incident-metrics.ts';

const { stack, template, id } = synthesizedApp('simulated');
const topic = { Ref: id(stack.topic) };

/** The dashboard body with its tokens resolved to CloudFormation references, as JSON text. */
function dashboardBody(): string {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  return JSON.stringify(dashboard!.Properties.DashboardBody);
}

describe('alarms', () => {
  it('a failed or timed-out execution alarms on the outcome topic, and so does its recovery to OK', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(failed, 0) + FILL(timedOut, 0)' }),
        Match.objectLike({
          Id: 'failed',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({
              Namespace: 'AWS/States',
              MetricName: 'ExecutionsFailed',
              Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: id(stack.stateMachine) } }],
            }),
          }),
        }),
        Match.objectLike({
          Id: 'timedOut',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'ExecutionsTimedOut' }),
          }),
        }),
      ]),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
    });
  });

  it('one message in the projector dead-letter queue alarms on the outcome topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [id(stack.projectionFailures), 'QueueName'] },
        },
      ],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topic],
    });
  });

  it('no alarm of ours is named recoverseg/…, which would make the trigger start a recovery', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm')))
      expect(alarm.Properties.AlarmName).toBeUndefined();
  });

  it('CloudWatch may use the topic key, so alarm notifications reach an encrypted topic', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('RecoveryOutcomesKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });
});

describe('the CloudWatch dashboard', () => {
  it('charts executions started, succeeded, failed, aborted and timed out of this state machine', () => {
    const body = dashboardBody();
    for (const metric of [
      'ExecutionsStarted',
      'ExecutionsSucceeded',
      'ExecutionsFailed',
      'ExecutionsAborted',
      'ExecutionsTimedOut',
    ])
      expect(body).toContain(`\\"AWS/States\\",\\"${metric}\\",\\"StateMachineArn\\"`);
    expect(body).toContain(id(stack.stateMachine));
  });

  it('charts each incident time per cluster from the Powertools metrics FinishRecovery writes', () => {
    const body = dashboardBody();
    for (const { name } of INCIDENT_METRICS)
      expect(body).toContain(
        `SEARCH('{recoverseg,ClusterId,service} MetricName=\\\\\\"${name}\\\\\\"', 'Maximum', 300)`,
      );
  });

  it('charts the errors of every Lambda and the depth of both dead-letter queues', () => {
    const body = dashboardBody();
    for (const { fn } of Object.values(stack.lambdas)) expect(body).toContain(id(fn));
    expect(body.match(/\\"AWS\/Lambda\\",\\"Errors\\"/g)).toHaveLength(
      Object.keys(stack.lambdas).length,
    );
    expect(body).toContain(id(stack.projectionFailures));
    expect(body).toContain(id(stack.triggerFailures));
    expect(body).toContain('ApproximateNumberOfMessagesVisible');
  });

  it('shows the three alarms', () => {
    const body = dashboardBody();
    for (const alarm of Object.values(stack.alarms)) expect(body).toContain(id(alarm));
  });
});
