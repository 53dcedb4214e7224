import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import type { WatchRequest } from '#domain/watch.ts';
import { WATCHER_ERRORS, WATCH_METRICS } from '#lambdas/common/watch-metrics.ts';

export interface WatcherProps {
  /** The WatchCluster function. */
  fn: lambda.IFunction;
  /** The cluster this deployment drives (`recoverseg:clusterId`); none: nothing to watch. */
  clusterId: string | undefined;
  /** Minutes between two looks; 0: no schedule. */
  minutes: number;
  /** The Powertools namespace and `service` dimension of the function's metrics. */
  service: string;
  /** Where the alarms go: the outcome topic. */
  alarmAction: SnsAction;
}

type WatcherAlarm = 'segmentsDown' | 'doubleFaults' | 'watcherErrors' | 'watcherStopped';

/**
 * The watcher on AWS: an EventBridge Scheduler schedule that invokes WatchCluster with the
 * cluster every `minutes`, alarms on what its looks publish (to the outcome topic), and its
 * dashboard widgets. Recoveries are started by the look itself under policy `auto` (README,
 * "Detecting failures"); no alarm here is named `recoverseg/...`, so none starts one twice.
 */
export class Watcher extends Construct {
  readonly schedule: scheduler.Schedule | undefined;
  readonly alarms: Partial<Record<WatcherAlarm, cloudwatch.Alarm>> = {};
  readonly widgets: cloudwatch.IWidget[];

  constructor(scope: Construct, id: string, props: WatcherProps) {
    super(scope, id);
    const { clusterId, minutes } = props;
    this.schedule =
      clusterId !== undefined && minutes > 0 ? this.watch(props, clusterId) : undefined;
    if (this.schedule && clusterId !== undefined) this.alarms = this.alarmsOn(props, clusterId);
    this.widgets = this.dashboardRow(props);
  }

  /**
   * The schedule, in a group of its own: the role it assumes may be assumed only for
   * schedules of that group (aws:SourceArn) and invokes only WatchCluster, no version or alias.
   */
  private watch({ fn, minutes }: WatcherProps, clusterId: string): scheduler.Schedule {
    const group = new scheduler.ScheduleGroup(this, 'Group', {
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'ScheduleRole', {
      description: `recoverseg: EventBridge Scheduler invokes WatchCluster for cluster ${clusterId}`,
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': Stack.of(this).account,
            'aws:SourceArn': group.scheduleGroupArn,
          },
        },
      }),
    });
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
    );
    const schedule = new scheduler.Schedule(this, 'Schedule', {
      description: `recoverseg: one look at cluster ${clusterId} every ${minutes} min`,
      scheduleGroup: group,
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(minutes)),
      // LambdaInvoke grants invoke on the function and all its versions to the role it is
      // given; the role's own statement above is all it needs, so it is passed read-only.
      target: new LambdaInvoke(fn, {
        role: role.withoutPolicyUpdates(),
        input: scheduler.ScheduleTargetInput.fromObject({ clusterId } satisfies WatchRequest),
        // A failed look is not retried: the next one comes within the interval.
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });
    // The schedule names its group by a generated name, not a reference: say the order.
    schedule.node.addDependency(group);
    return schedule;
  }

  private metric(props: WatcherProps, name: string, statistic: string, clusterId: string) {
    return new cloudwatch.Metric({
      namespace: props.service,
      metricName: name,
      dimensionsMap: { ClusterId: clusterId, service: props.service },
      statistic,
      period: Duration.minutes(props.minutes),
    });
  }

  /**
   * What wakes someone at 3 a.m.: a segment down or a double fault at one look, looks that
   * keep failing, and no look at all (missing data breaches: the watcher itself stopped).
   */
  private alarmsOn(props: WatcherProps, clusterId: string): Record<WatcherAlarm, cloudwatch.Alarm> {
    const above = (name: string, id: string, what: string) =>
      this.metric(props, name, 'Maximum', clusterId).createAlarm(this, id, {
        alarmDescription: `recoverseg: cluster ${clusterId}: ${what}`,
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // No look is the watcher-stopped alarm's to report.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const alarms = {
      segmentsDown: above(
        'SegmentsDown',
        'SegmentsDownAlarm',
        'a segment is down (recoverseg events and status say which, and whether a recovery runs)',
      ),
      doubleFaults: above(
        'DoubleFaults',
        'DoubleFaultsAlarm',
        'a content has no live copy (double fault): no recovery starts; gpstop -a -M fast, gpstart -a, then a recovery',
      ),
      watcherErrors: this.metric(props, WATCHER_ERRORS, 'Sum', clusterId).createAlarm(
        this,
        'WatcherErrorsAlarm',
        {
          alarmDescription: `recoverseg: cluster ${clusterId}: three looks in a row failed, so failures go unseen; the WatchCluster log says why`,
          threshold: 1,
          evaluationPeriods: 3,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      ),
      watcherStopped: this.metric(props, WATCHER_ERRORS, 'SampleCount', clusterId).createAlarm(
        this,
        'WatcherStoppedAlarm',
        {
          alarmDescription: `recoverseg: cluster ${clusterId}: no look for three intervals (the schedule is off, or WatchCluster cannot start), so failures go unseen`,
          threshold: 1,
          evaluationPeriods: 3,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        },
      ),
    };
    for (const alarm of Object.values(alarms)) {
      alarm.addAlarmAction(props.alarmAction);
      alarm.addOkAction(props.alarmAction);
    }
    return alarms;
  }

  /** One line per cluster, whatever clusters publish: the widgets need no list of them. */
  private dashboardRow(props: WatcherProps): cloudwatch.IWidget[] {
    const period = Duration.minutes(Math.max(1, props.minutes));
    const search = (name: string, label: string, statistic: string) =>
      new cloudwatch.MathExpression({
        label,
        expression: `SEARCH('{${props.service},ClusterId,service} MetricName="${name}"', '${statistic}', ${period.toSeconds()})`,
        period,
      });
    const counts = WATCH_METRICS.filter((m) => m.unit === MetricUnit.Count);
    return [
      new cloudwatch.GraphWidget({
        title: 'Watcher: what the last looks saw, per cluster',
        width: 8,
        left: counts.map(({ name, label }) => search(name, label, 'Maximum')),
        leftYAxis: { min: 0, showUnits: false },
      }),
      new cloudwatch.GraphWidget({
        title: 'Watcher: seconds since each cluster was last whole',
        width: 8,
        left: [search('SecondsSinceWhole', 'seconds since whole', 'Maximum')],
        leftYAxis: { min: 0, label: 'seconds', showUnits: false },
      }),
      new cloudwatch.GraphWidget({
        title: 'Watcher: looks and failed looks, per cluster',
        width: 8,
        left: [
          search(WATCHER_ERRORS, 'looks', 'SampleCount'),
          search(WATCHER_ERRORS, 'failed looks', 'Sum'),
        ],
        leftYAxis: { min: 0, showUnits: false },
      }),
      ...(Object.keys(this.alarms).length > 0
        ? [
            new cloudwatch.AlarmStatusWidget({
              title: 'Watcher alarms',
              width: 24,
              alarms: Object.values(this.alarms),
            }),
          ]
        : []),
    ];
  }
}
