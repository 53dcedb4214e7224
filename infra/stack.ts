import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
  type StackProps,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ROUTES } from '#api/routes.ts';
import { INCIDENT_METRICS } from '#lambdas/common/incident-metrics.ts';
import {
  TABLES,
  tableEnvironment,
  type TableDefinition,
  type TableKey,
  type TableNames,
} from '#store/tables.ts';
import { deploymentSettings, type DeploymentSettings } from '#infra/settings.ts';
import {
  SERVICE_FUNCTIONS,
  WORKFLOW_TASKS,
  WORKFLOW_TASK_NAMES,
  taskArnPlaceholder,
  type WorkflowTask,
} from '#infra/tasks.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import { Watcher } from '#infra/watcher.ts';
import { RunCommandOutput } from '#infra/run-command-output.ts';
import { LambdaCode, handlerOf } from '#infra/lambda-code.ts';
import { clusterInstanceIds, grantFailover, hostInstancesEnvironment } from '#infra/failover.ts';

export type ServiceFunction = keyof typeof SERVICE_FUNCTIONS;
export type FunctionName = WorkflowTask | ServiceFunction;

const FUNCTIONS: Record<FunctionName, { entry: string; timeoutSeconds: number }> = {
  ...WORKFLOW_TASKS,
  ...SERVICE_FUNCTIONS,
};

const SERVICE_NAME = 'recoverseg';

/** The CloudFormation substitution key of a Task's `${…Arn}` placeholder in the definition. */
export const substitutionKey = (task: WorkflowTask): string =>
  taskArnPlaceholder(task).slice(2, -1);

export interface Lambda {
  fn: lambda.Function;
  role: iam.Role;
}

/**
 * recoverseg in AWS: the event log and its projection, one Lambda per Task state and trigger,
 * the Standard state machine that runs a recovery, and the ways in (IAM-authorized REST API,
 * EventBridge rules for alarms and instance state changes). Environment-agnostic: nothing
 * here needs an account or region at synth time.
 */
export class RecoverSegStack extends Stack {
  readonly settings: DeploymentSettings;
  readonly tables: Record<TableKey, dynamodb.Table>;
  readonly lambdas: Record<FunctionName, Lambda>;
  /** Every function's bundle, from one esbuild run. */
  private readonly code: LambdaCode<FunctionName>;
  readonly topic: sns.Topic;
  readonly stateMachine: sfn.StateMachine;
  readonly projectionFailures: sqs.Queue;
  readonly triggerFailures: sqs.Queue;
  readonly api: apigw.LambdaRestApi;
  readonly dashboard: cloudwatch.Dashboard;
  readonly watcher: Watcher;
  /** Over SSM only: where the agent writes whole Run Command outputs. */
  readonly runCommandOutput?: RunCommandOutput;
  readonly alarms: {
    recoveryFailed: cloudwatch.Alarm;
    projectionDeadLetters: cloudwatch.Alarm;
    triggerDeadLetters: cloudwatch.Alarm;
  };

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.settings = deploymentSettings(this.node);

    this.tables = {
      eventLog: this.table(TABLES.eventLog, RemovalPolicy.RETAIN),
      // Both are derived: the projection is a fold of the log; locks and idempotency keys
      // expire, snapshots are a cache and the simulator is a demo.
      configuration: this.table(TABLES.configuration, RemovalPolicy.DESTROY),
      control: this.table(TABLES.control, RemovalPolicy.DESTROY),
    };

    // A customer-managed key: CloudWatch alarms publish to this topic, and the AWS-managed SNS
    // key's policy does not admit cloudwatch.amazonaws.com (the alarm's action would fail).
    const topicKey = new kms.Key(this, 'RecoveryOutcomesKey', {
      description: 'recoverseg: encrypts the recovery outcome topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    this.topic = new sns.Topic(this, 'RecoveryOutcomes', {
      displayName: 'recoverseg: outcome of every recovery run',
      masterKey: topicKey,
      enforceSSL: true,
    });

    if (this.settings.clusterBackend === 'ssm')
      this.runCommandOutput = new RunCommandOutput(this, 'RunCommandOutput', {
        ...(this.settings.coordinatorRoleName
          ? { coordinatorRoleName: this.settings.coordinatorRoleName }
          : {}),
        ...(this.settings.standby?.roleName
          ? { standbyRoleName: this.settings.standby.roleName }
          : {}),
      });

    this.code = new LambdaCode(this, FUNCTIONS);
    this.lambdas = Object.fromEntries(
      (Object.keys(FUNCTIONS) as FunctionName[]).map((name) => [name, this.lambda(name)]),
    ) as Record<FunctionName, Lambda>;

    const { eventLog, control } = this.tables;
    for (const task of WORKFLOW_TASK_NAMES) {
      const { fn } = this.lambdas[task];
      // Appends go through TransactWriteItems with idempotency keys and snapshots in Control;
      // the simulated cluster and the lock live there too. Tasks never touch the projection.
      eventLog.grantReadWriteData(fn);
      control.grantReadWriteData(fn);
      const { drivesCluster, notifies } = WORKFLOW_TASKS[task];
      if (notifies) {
        fn.addEnvironment('NOTIFY_TOPIC_ARN', this.topic.topicArn);
        this.topic.grantPublish(fn);
      }
      if (drivesCluster && this.settings.clusterBackend === 'ssm')
        this.allowRunCommand(fn, clusterInstanceIds(this.settings));
    }
    if (this.settings.clusterBackend === 'ssm')
      grantFailover(this.settings, this.lambdas.FenceCoordinator.fn, this.lambdas.MoveClients.fn);

    this.stateMachine = this.recoveryWorkflow();

    this.projectionFailures = this.deadLetterQueue('ProjectionFailures');
    this.projectEventLog(this.lambdas.ProjectConfiguration.fn);

    this.api = this.restApi(this.lambdas.ApiRouter.fn);

    this.triggerFailures = this.deadLetterQueue('TriggerFailures');
    this.routeEvents(this.lambdas.StartFromEvent.fn);

    this.alarms = this.recoveryAlarms();
    this.dashboard = this.workflowDashboard();

    this.allowWatching(this.lambdas.WatchCluster.fn);
    this.watcher = new Watcher(this, 'Watcher', {
      fn: this.lambdas.WatchCluster.fn,
      clusterId: this.settings.clusterId,
      minutes: this.settings.watchMinutes,
      service: SERVICE_NAME,
      alarmAction: new SnsAction(this.topic),
    });
    this.dashboard.addWidgets(...this.watcher.widgets);

    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName });
    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: 'REST API (IAM auth): POST /clusters, /clusters/{clusterId}/…',
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotifyTopicArn', { value: this.topic.topicArn });
    for (const [key, table] of Object.entries(this.tables))
      new CfnOutput(this, `${TABLES[key as TableKey].id}TableName`, { value: table.tableName });
  }

  private table(definition: TableDefinition, removalPolicy: RemovalPolicy): dynamodb.Table {
    const key = (attribute: TableDefinition['partitionKey']): dynamodb.Attribute => ({
      name: attribute.name,
      type: attribute.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
    });
    return new dynamodb.Table(this, definition.id, {
      partitionKey: key(definition.partitionKey),
      sortKey: key(definition.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      ...(definition.stream ? { stream: dynamodb.StreamViewType[definition.stream] } : {}),
      ...(definition.timeToLiveAttribute
        ? { timeToLiveAttribute: definition.timeToLiveAttribute }
        : {}),
      // The event log is the only record of what happened to the cluster; the others are
      // rebuilt from it or expire on their own.
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: definition.id === TABLES.eventLog.id,
      },
      removalPolicy,
    });
  }

  private lambda(name: FunctionName): Lambda {
    const { timeoutSeconds } = FUNCTIONS[name];
    const logGroup = new logs.LogGroup(this, `${name}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      // The event log is the durable record; function logs are for debugging.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Own role without AWSLambdaBasicExecutionRole: it would allow writing to any log group.
    const role = new iam.Role(this, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `recoverseg ${name} Lambda`,
    });
    logGroup.grantWrite(role);

    const fn = new lambda.Function(this, name, {
      code: this.code.of(name),
      handler: handlerOf(name),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(timeoutSeconds),
      role,
      logGroup,
      // Nothing in the handlers is instrumented (no X-Ray SDK, no Powertools Tracer: they would
      // add to every bundle and its init). Active tracing still gives each invocation Lambda's
      // own segments (Initialization, i.e. the cold start, Invocation, Overhead), joined to the
      // state machine's and API Gateway's traces: where a recovery or a request spent its time.
      tracing: lambda.Tracing.ACTIVE,
      environment: this.functionEnvironment(),
    });
    return { fn, role };
  }

  private functionEnvironment(): Record<string, string> {
    const settings = this.settings;
    return {
      ...tableEnvironment(
        Object.fromEntries(
          Object.entries(this.tables).map(([key, table]) => [key, table.tableName]),
        ) as TableNames,
      ),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: SERVICE_NAME,
      CLUSTER_BACKEND: settings.clusterBackend,
      ...(settings.clusterId ? { CLUSTER_ID: settings.clusterId } : {}),
      ...(settings.clusterBackend === 'ssm'
        ? {
            COORDINATOR_INSTANCE_ID: settings.coordinatorInstanceId,
            ...(settings.gphome ? { GPHOME: settings.gphome } : {}),
            ...(settings.coordinatorDataDirectory
              ? { COORDINATOR_DATA_DIRECTORY: settings.coordinatorDataDirectory }
              : {}),
            ...(settings.adminUser ? { GP_ADMIN_USER: settings.adminUser } : {}),
            ...(settings.coordinatorPort === undefined
              ? {}
              : { COORDINATOR_PORT: String(settings.coordinatorPort) }),
          }
        : {}),
      ...hostInstancesEnvironment(settings),
    };
  }

  /**
   * SSM Run Command on the coordinator's host (and the standby's), with the one document the
   * adapter uses, and reading the outputs too long to come back inline.
   */
  private allowRunCommand(fn: lambda.Function, instanceIds: string[]): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [
          this.formatArn({
            service: 'ssm',
            account: '',
            resource: 'document',
            resourceName: 'AWS-RunShellScript',
          }),
          ...instanceIds.map((id) =>
            this.formatArn({ service: 'ec2', resource: 'instance', resourceName: id }),
          ),
        ],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }),
    );
    this.runCommandOutput?.grantRead(fn);
  }

  private recoveryWorkflow(): sfn.StateMachine {
    const tasks = WORKFLOW_TASK_NAMES.map((task) => this.lambdas[task].fn);
    const stateMachine = new sfn.StateMachine(this, 'RecoveryWorkflow', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'recoverseg: detect, promote, recover, wait for sync, rebalance',
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(workflowDefinition())),
      definitionSubstitutions: Object.fromEntries(
        WORKFLOW_TASK_NAMES.map((task) => [
          substitutionKey(task),
          this.lambdas[task].fn.functionArn,
        ]),
      ),
      logs: {
        destination: new logs.LogGroup(this, 'RecoveryWorkflowLogs', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
        // Execution data holds host names and data directories; the event log has the facts.
        includeExecutionData: false,
      },
      tracingEnabled: true,
    });
    // The definition invokes unqualified function ARNs, so the role needs no version wildcard
    // (grantInvoke would add `<arn>:*`).
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: tasks.map((fn) => fn.functionArn),
      }),
    );
    return stateMachine;
  }

  private deadLetterQueue(id: string): sqs.Queue {
    return new sqs.Queue(this, id, {
      // SQS-managed keys: EventBridge and Lambda can deliver without a KMS key policy.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }

  /** The projector follows the event log stream and keeps Configuration up to date. */
  private projectEventLog(projector: lambda.Function): void {
    this.tables.eventLog.grantReadData(projector);
    this.tables.configuration.grantReadWriteData(projector);
    projector.addEventSource(
      new DynamoEventSource(this.tables.eventLog, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: 5,
        // A cluster whose records were dropped is rebuilt from the log at its next event (the
        // projector sees the gap), so retrying old records for long buys nothing.
        maxRecordAge: Duration.hours(1),
        onFailure: new SqsDlq(this.projectionFailures),
      }),
    );
  }

  private restApi(router: lambda.Function): apigw.LambdaRestApi {
    // Cancel asks the coordinator which gprecoverseg holds its lock (it never kills it).
    if (this.settings.clusterBackend === 'ssm')
      this.allowRunCommand(router, clusterInstanceIds(this.settings));
    this.tables.eventLog.grantReadWriteData(router);
    this.tables.configuration.grantReadData(router);
    this.tables.control.grantReadWriteData(router);
    this.stateMachine.grantStartExecution(router);
    // Is the lock holder alive (a dead run never wedges a cluster), and cancel: its executions only.
    this.grantOnExecutions(
      router,
      ['states:DescribeExecution', 'states:StopExecution'],
      'the API checks whether a cluster lock holder still runs and cancels a run an operator stops.',
    );
    router.addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);

    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const api = new apigw.LambdaRestApi(this, 'Api', {
      restApiName: 'recoverseg',
      description:
        'recoverseg: register Greenplum/Cloudberry clusters, read their configuration, start and follow recoveries',
      handler: router,
      // Only the routes the router serves reach it; anything else is a 403 at the edge.
      proxy: false,
      // Console test invocations bypass IAM authorization.
      integrationOptions: { allowTestInvoke: false },
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      // Access logging needs the account-level API Gateway CloudWatch role.
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: 20,
        throttlingBurstLimit: 40,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
      },
    });
    // Path parameters are checked here; bodies and queries by the router's zod schemas, the
    // same ones the local API runs.
    const requestValidator = api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    for (const route of ROUTES) {
      const pathParameters = [...route.path.matchAll(/\{(\w+)\}/g)].map(
        (match) => `method.request.path.${match[1]}`,
      );
      api.root.resourceForPath(route.path).addMethod(route.method, undefined, {
        requestValidator,
        requestParameters: Object.fromEntries(pathParameters.map((parameter) => [parameter, true])),
      });
    }
    return api;
  }

  /**
   * A failed (or timed out) recovery and anything in the projector's or the trigger's dead-letter
   * queue go to the outcome topic. Their names do not start with `recoverseg/`: the trigger
   * starts a recovery only for alarms named `recoverseg/<clusterId>/...`.
   */
  private recoveryAlarms(): RecoverSegStack['alarms'] {
    const action = new SnsAction(this.topic);
    const recoveryFailed = new cloudwatch.MathExpression({
      label: 'executions failed or timed out',
      expression: 'FILL(failed, 0) + FILL(timedOut, 0)',
      usingMetrics: {
        failed: this.stateMachine.metricFailed({ statistic: 'Sum' }),
        timedOut: this.stateMachine.metricTimedOut({ statistic: 'Sum' }),
      },
      period: Duration.minutes(1),
    }).createAlarm(this, 'RecoveryFailedAlarm', {
      alarmDescription:
        'recoverseg: a recovery execution failed or timed out; the event log (RecoveryFailed) says in which phase and why',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const deadLetters = (queue: sqs.Queue, id: string, what: string) =>
      queue
        .metricApproximateNumberOfMessagesVisible({
          statistic: 'Maximum',
          period: Duration.minutes(1),
        })
        .createAlarm(this, id, {
          alarmDescription: `recoverseg: ${what}`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });
    const projectionDeadLetters = deadLetters(
      this.projectionFailures,
      'ProjectionDeadLettersAlarm',
      'the projector gave up on EventLog records; gp_segment_configuration as the API reads it may be behind the log until the next event of that cluster',
    );
    const triggerDeadLetters = deadLetters(
      this.triggerFailures,
      'TriggerDeadLettersAlarm',
      'an alarm or EC2 event could not start a recovery; a failure may be waiting for one',
    );
    for (const alarm of [recoveryFailed, projectionDeadLetters, triggerDeadLetters]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    return { recoveryFailed, projectionDeadLetters, triggerDeadLetters };
  }

  /**
   * The workflow at a glance: executions by outcome, the time each incident took to be promoted,
   * redundant again and rebalanced (one line per cluster), Lambda errors per function, and the
   * dead-letter queues.
   */
  private workflowDashboard(): cloudwatch.Dashboard {
    const sm = this.stateMachine;
    const period = Duration.minutes(5);
    const incident = (metric: string, label: string) =>
      new cloudwatch.MathExpression({
        label,
        // One series per cluster, whatever clusters exist: the ClusterId dimension is
        // written by FinishRecovery, so the dashboard needs no list of them.
        expression: `SEARCH('{${SERVICE_NAME},ClusterId,service} MetricName="${metric}"', 'Maximum', 300)`,
        period,
      });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `recoverseg-${this.stackName}`,
      defaultInterval: Duration.days(7),
    });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Recovery executions',
        width: 12,
        left: [
          sm.metricStarted({ label: 'started', statistic: 'Sum', period }),
          sm.metricSucceeded({ label: 'succeeded', statistic: 'Sum', period }),
          sm.metricFailed({ label: 'failed', statistic: 'Sum', period }),
          sm.metricAborted({ label: 'cancelled (aborted)', statistic: 'Sum', period }),
          sm.metricTimedOut({ label: 'timed out', statistic: 'Sum', period }),
        ],
      }),
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        width: 12,
        alarms: Object.values(this.alarms),
      }),
    );
    dashboard.addWidgets(
      ...INCIDENT_METRICS.map(
        ({ name, label }) =>
          new cloudwatch.GraphWidget({
            title: `Time to ${label} per incident (s, since the recovery was requested)`,
            width: 8,
            left: [incident(name, label)],
            leftYAxis: { min: 0, label: 'seconds', showUnits: false },
          }),
      ),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Lambda errors',
        width: 12,
        left: (Object.keys(this.lambdas) as FunctionName[]).map((name) =>
          this.lambdas[name].fn.metricErrors({ label: name, statistic: 'Sum', period }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues (messages visible)',
        width: 12,
        left: [
          this.projectionFailures.metricApproximateNumberOfMessagesVisible({
            label: 'projector (EventLog stream)',
            statistic: 'Maximum',
            period: Duration.minutes(1),
          }),
          this.triggerFailures.metricApproximateNumberOfMessagesVisible({
            label: 'trigger (alarms, EC2 events)',
            statistic: 'Maximum',
            period: Duration.minutes(1),
          }),
        ],
      }),
    );
    return dashboard;
  }

  /**
   * Actions on this state machine's executions, `execution:<name>:*`: a name is only known once
   * the execution exists, so cdk-nag's wildcard finding is acknowledged beside the grant.
   */
  private grantOnExecutions(fn: lambda.Function, actions: string[], why: string): void {
    this.stateMachine.grantExecution(fn, ...actions);
    const policy = fn.role?.node.tryFindChild('DefaultPolicy');
    if (policy)
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${this.getLogicalId(this.stateMachine.node.defaultChild as sfn.CfnStateMachine)}"}]}]}:*]`,
        reason: `${actions.join(' and ')} on the executions of the recovery state machine only (execution names are per incident): ${why}`,
      });
  }

  /**
   * A look reads the log and the cluster, records what changed, and under policy auto starts a
   * run as the API does (closing a dead holder's on record first); it notifies otherwise.
   */
  private allowWatching(fn: lambda.Function): void {
    this.tables.eventLog.grantReadWriteData(fn);
    // The lock lives in Control, and so does a simulated cluster's state.
    this.tables.control.grantReadWriteData(fn);
    this.stateMachine.grantStartExecution(fn);
    this.grantOnExecutions(
      fn,
      ['states:DescribeExecution'],
      'the watcher checks whether a cluster lock holder still runs, and before it starts a run.',
    );
    fn.addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    fn.addEnvironment('NOTIFY_TOPIC_ARN', this.topic.topicArn);
    this.topic.grantPublish(fn);
    if (this.settings.clusterBackend === 'ssm')
      this.allowRunCommand(fn, clusterInstanceIds(this.settings));
    // A failed look is not retried: the next one comes within the interval.
    fn.configureAsyncInvoke({ retryAttempts: 0 });
  }

  /**
   * Alarms and instance state changes of the whole account reach the trigger, which keeps
   * those that name a registered cluster (alarm name prefix or the `recoverseg:cluster` tag).
   */
  private routeEvents(trigger: lambda.Function): void {
    // It closes on record the recovery of a lock holder that died before starting its own.
    this.tables.eventLog.grantReadWriteData(trigger);
    this.tables.control.grantReadWriteData(trigger);
    this.stateMachine.grantStartExecution(trigger);
    this.grantOnExecutions(
      trigger,
      ['states:DescribeExecution'],
      'an alarm or EC2 trigger checks whether a cluster lock holder still runs before it starts a run.',
    );
    trigger.addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    trigger.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ec2:DescribeTags'], resources: ['*'] }),
    );
    // A missed trigger is a missed recovery: keep what could not be delivered or handled.
    trigger.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new destinations.SqsDestination(this.triggerFailures),
    });

    const target = new targets.LambdaFunction(trigger, {
      deadLetterQueue: this.triggerFailures,
      retryAttempts: 4,
      maxEventAge: Duration.hours(2),
    });
    new events.Rule(this, 'AlarmStateChange', {
      description: 'recoverseg: a CloudWatch alarm went to ALARM',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [target],
    });
    new events.Rule(this, 'InstanceStateChange', {
      description: 'recoverseg: an EC2 instance is stopping or gone',
      eventPattern: {
        source: ['aws.ec2'],
        detailType: ['EC2 Instance State-change Notification'],
        detail: { state: ['stopped', 'terminated', 'shutting-down'] },
      },
      targets: [target],
    });
  }
}
