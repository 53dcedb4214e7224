import { describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { ROUTES } from '#api/routes.ts';
import { RecoverSegStack, substitutionKey, type FunctionName } from '#infra/stack.ts';
import {
  SERVICE_FUNCTIONS,
  WORKFLOW_TASKS,
  WORKFLOW_TASK_NAMES,
  type WorkflowTask,
  taskArnPlaceholder,
} from '#infra/tasks.ts';
import { workflowDefinition } from '#infra/state-machine.ts';
import { TABLES, type TableKey } from '#store/tables.ts';
import {
  BACKENDS,
  FUNCTION_NAMES,
  instanceArn,
  statementsOf,
  synthesizedApp,
  type Synthesized,
} from '#test/infra/synth.ts';

const simulated = synthesizedApp('simulated');
const ssm = synthesizedApp('ssm');

const WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const refersTo = (resources: unknown[], logicalId: string) =>
  resources.some((r) => JSON.stringify(r) === JSON.stringify(arnOf(logicalId)));

function allows(
  synthd: Synthesized,
  name: FunctionName | 'workflow',
  actions: string[],
  resourceId?: string,
): boolean {
  const role =
    name === 'workflow' ? synthd.stack.stateMachine.role : synthd.stack.lambdas[name].role;
  return statementsOf(synthd, role).some(
    (s) =>
      s.actions.some((a) => actions.includes(a)) &&
      (resourceId === undefined || refersTo(s.resources, resourceId)),
  );
}

describe('tables', () => {
  it('are built from TABLES: keys, billing, stream, TTL, encryption', () => {
    const { template, stack, id } = simulated;
    for (const key of Object.keys(TABLES) as TableKey[]) {
      const def = TABLES[key];
      const properties = template.toJSON().Resources[id(stack.tables[key])].Properties;
      expect(properties.KeySchema).toEqual([
        { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
      ]);
      expect(properties.AttributeDefinitions).toEqual([
        { AttributeName: def.partitionKey.name, AttributeType: def.partitionKey.type },
        { AttributeName: def.sortKey.name, AttributeType: def.sortKey.type },
      ]);
      expect(properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(properties.SSESpecification).toEqual({ SSEEnabled: true });
      expect(properties.StreamSpecification).toEqual(
        'stream' in def ? { StreamViewType: def.stream } : undefined,
      );
      expect(properties.TimeToLiveSpecification).toEqual(
        'timeToLiveAttribute' in def
          ? { AttributeName: def.timeToLiveAttribute, Enabled: true }
          : undefined,
      );
    }
  });

  it('keeps the event log: point-in-time recovery and RETAIN', () => {
    const { template, stack, id } = simulated;
    const eventLog = template.toJSON().Resources[id(stack.tables.eventLog)];
    expect(eventLog.Properties.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
    expect(eventLog.DeletionPolicy).toBe('Retain');
    expect(eventLog.UpdateReplacePolicy).toBe('Retain');
  });
});

describe('functions', () => {
  it('one per entry of the tasks table, Node.js 24 on arm64, traced, with its timeout', () => {
    const { template, stack, id } = simulated;
    template.resourceCountIs('AWS::Lambda::Function', FUNCTION_NAMES.length);
    const entries: Record<string, { timeoutSeconds: number }> = {
      ...WORKFLOW_TASKS,
      ...SERVICE_FUNCTIONS,
    };
    for (const name of FUNCTION_NAMES) {
      const fn = template.toJSON().Resources[id(stack.lambdas[name].fn)].Properties;
      expect(fn).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: `${name}.handler`,
        Timeout: entries[name]!.timeoutSeconds,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
      expect(
        template.toJSON().Resources[fn.LoggingConfig.LogGroup.Ref].Properties.RetentionInDays,
      ).toBe(30);
    }
  });

  it('read the tables, backend and Powertools settings from the environment', () => {
    const { template, stack, id } = ssm;
    for (const name of FUNCTION_NAMES) {
      const variables =
        template.toJSON().Resources[id(stack.lambdas[name].fn)].Properties.Environment.Variables;
      for (const key of Object.keys(TABLES) as TableKey[])
        expect(variables[TABLES[key].env]).toEqual({ Ref: id(stack.tables[key]) });
      expect(variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'recoverseg',
        POWERTOOLS_METRICS_NAMESPACE: 'recoverseg',
        CLUSTER_BACKEND: 'ssm',
        CLUSTER_ID: 'prod',
        COORDINATOR_INSTANCE_ID: 'i-0123456789abcdef0',
      });
      // --enable-source-maps parses the map at every cold start; stack-traces.ts maps lazily.
      expect(variables).not.toHaveProperty('NODE_OPTIONS');
    }
    for (const task of WORKFLOW_TASK_NAMES)
      expect(
        template.toJSON().Resources[id(stack.lambdas[task].fn)].Properties.Environment.Variables
          .NOTIFY_TOPIC_ARN,
        task,
      ).toEqual(WORKFLOW_TASKS[task].notifies ? { Ref: id(stack.topic) } : undefined);
    for (const name of ['ApiRouter', 'StartFromEvent'] as const)
      expect(
        template.toJSON().Resources[id(stack.lambdas[name].fn)].Properties.Environment.Variables
          .STATE_MACHINE_ARN,
      ).toEqual({ Ref: id(stack.stateMachine) });
  });

  it('the simulated backend carries no coordinator instance', () => {
    const { template, stack, id } = simulated;
    const variables =
      template.toJSON().Resources[id(stack.lambdas.DetectFailures.fn)].Properties.Environment
        .Variables;
    expect(variables).toMatchObject({ CLUSTER_BACKEND: 'simulated', CLUSTER_ID: 'seed' });
    expect(variables.COORDINATOR_INSTANCE_ID).toBeUndefined();
  });
});

describe('the state machine', () => {
  const { template, stack, id } = simulated;
  const machine = template.toJSON().Resources[id(stack.stateMachine)].Properties;

  it('is STANDARD, runs the workflow definition, logs ALL without execution data, and is traced', () => {
    expect(machine.StateMachineType).toBe('STANDARD');
    expect(JSON.parse(machine.DefinitionString)).toEqual(
      JSON.parse(JSON.stringify(workflowDefinition())),
    );
    expect(machine.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      IncludeExecutionData: false,
    });
    expect(machine.TracingConfiguration).toEqual({ Enabled: true });
  });

  it('substitutes every ${Task}Arn placeholder with the ARN of that task function', () => {
    const placeholders = new Set(
      [...(machine.DefinitionString as string).matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]),
    );
    expect([...placeholders].sort()).toEqual(Object.keys(machine.DefinitionSubstitutions).sort());
    for (const task of WORKFLOW_TASK_NAMES) {
      expect(machine.DefinitionString).toContain(taskArnPlaceholder(task));
      expect(machine.DefinitionSubstitutions[substitutionKey(task)]).toEqual(
        arnOf(id(stack.lambdas[task].fn)),
      );
    }
  });

  it('may invoke exactly the task functions, unqualified', () => {
    const invoke = statementsOf(simulated, stack.stateMachine.role).filter((s) =>
      s.actions.includes('lambda:InvokeFunction'),
    );
    expect(invoke.flatMap((s) => s.resources)).toEqual(
      WORKFLOW_TASK_NAMES.map((task) => arnOf(id(stack.lambdas[task].fn))),
    );
  });
});

describe('least privilege', () => {
  const { stack, id } = simulated;
  const eventLog = id(stack.tables.eventLog);
  const configuration = id(stack.tables.configuration);
  const control = id(stack.tables.control);

  it('workflow tasks write the event log and Control, never the projection', () => {
    for (const task of WORKFLOW_TASK_NAMES) {
      expect(allows(simulated, task, WRITE_ACTIONS, eventLog)).toBe(true);
      expect(allows(simulated, task, WRITE_ACTIONS, control)).toBe(true);
      expect(allows(simulated, task, ['dynamodb:GetItem', ...WRITE_ACTIONS], configuration)).toBe(
        false,
      );
      expect(allows(simulated, task, ['states:StartExecution'])).toBe(false);
    }
  });

  it('only the steps that end a run or wait for an operator, and WatchCluster (a failure it starts nothing for), publish', () => {
    const publishers = new Set([
      'FinishRecovery',
      'RecordFailure',
      'CheckSync',
      'WatchCluster',
      'StartFailover',
      'DecideActivation',
      'FinishFailover',
    ]);
    for (const name of FUNCTION_NAMES)
      expect(allows(simulated, name, ['sns:Publish']), name).toBe(publishers.has(name));
  });

  it('the projector reads the log and its stream and writes only Configuration', () => {
    expect(allows(simulated, 'ProjectConfiguration', ['dynamodb:Query'], eventLog)).toBe(true);
    expect(allows(simulated, 'ProjectConfiguration', WRITE_ACTIONS, eventLog)).toBe(false);
    expect(allows(simulated, 'ProjectConfiguration', WRITE_ACTIONS, configuration)).toBe(true);
    expect(
      allows(simulated, 'ProjectConfiguration', ['dynamodb:GetItem', ...WRITE_ACTIONS], control),
    ).toBe(false);
    expect(allows(simulated, 'ProjectConfiguration', ['states:StartExecution'])).toBe(false);
    expect(
      statementsOf(simulated, stack.lambdas.ProjectConfiguration.role).some(
        (s) =>
          s.actions.includes('dynamodb:GetRecords') &&
          JSON.stringify(s.resources).includes('StreamArn'),
      ),
    ).toBe(true);
  });

  it('the event trigger starts executions, and closes a dead lock holder on record: nothing more', () => {
    expect(allows(simulated, 'StartFromEvent', ['states:StartExecution'], undefined)).toBe(true);
    expect(allows(simulated, 'StartFromEvent', ['dynamodb:GetItem'], eventLog)).toBe(true);
    // A lock holder that died is superseded on record (RecoveryFailed abandoned, lock released).
    expect(allows(simulated, 'StartFromEvent', WRITE_ACTIONS, eventLog)).toBe(true);
    expect(allows(simulated, 'StartFromEvent', WRITE_ACTIONS, control)).toBe(true);
    expect(
      allows(simulated, 'StartFromEvent', ['dynamodb:GetItem', ...WRITE_ACTIONS], configuration),
    ).toBe(false);
    const onExecutions = statementsOf(simulated, stack.lambdas.StartFromEvent.role).filter((s) =>
      s.actions.includes('states:DescribeExecution'),
    );
    expect(onExecutions.flatMap((s) => s.actions)).toEqual(['states:DescribeExecution']);
    expect(allows(simulated, 'StartFromEvent', ['states:StopExecution', 'ssm:SendCommand'])).toBe(
      false,
    );
  });

  it('the API router registers clusters and starts executions of this state machine only', () => {
    expect(allows(simulated, 'ApiRouter', WRITE_ACTIONS, eventLog)).toBe(true);
    expect(allows(simulated, 'ApiRouter', WRITE_ACTIONS, control)).toBe(true);
    expect(allows(simulated, 'ApiRouter', ['dynamodb:Query'], configuration)).toBe(true);
    expect(allows(simulated, 'ApiRouter', WRITE_ACTIONS, configuration)).toBe(false);
    const start = statementsOf(simulated, stack.lambdas.ApiRouter.role).filter((s) =>
      s.actions.includes('states:StartExecution'),
    );
    expect(start.flatMap((s) => s.resources)).toEqual([{ Ref: id(stack.stateMachine) }]);
  });

  it('the simulated backend grants no SSM at all', () => {
    for (const name of FUNCTION_NAMES)
      expect(allows(simulated, name, ['ssm:SendCommand', 'ssm:GetCommandInvocation']), name).toBe(
        false,
      );
  });

  it("with SSM, SendCommand is scoped to AWS-RunShellScript on the coordinator's and the standby's instances, for the tasks that drive the cluster, the API router (cancel names the running gprecoverseg) and the watcher only", () => {
    for (const name of FUNCTION_NAMES) {
      const sendCommand = statementsOf(ssm, ssm.stack.lambdas[name].role).filter((s) =>
        s.actions.includes('ssm:SendCommand'),
      );
      const reachesCoordinator =
        name === 'ApiRouter' ||
        name === 'WatchCluster' ||
        (name in WORKFLOW_TASKS && WORKFLOW_TASKS[name as WorkflowTask].drivesCluster);
      if (!reachesCoordinator) {
        expect(sendCommand, name).toEqual([]);
        continue;
      }
      expect(sendCommand.flatMap((s) => s.actions)).toEqual(['ssm:SendCommand']);
      expect(sendCommand.flatMap((s) => s.resources)).toEqual([
        {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ssm:',
              { Ref: 'AWS::Region' },
              '::document/AWS-RunShellScript',
            ],
          ],
        },
        instanceArn('i-0123456789abcdef0'),
        instanceArn('i-0fedcba9876543210'),
      ]);
    }
  });
});

describe('the projector stream', () => {
  it('reports batch item failures, bisects, retries a bounded number of times and ends in an encrypted DLQ', () => {
    const { template, stack, id } = simulated;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(stack.lambdas.ProjectConfiguration.fn) },
      EventSourceArn: { 'Fn::GetAtt': [id(stack.tables.eventLog), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: arnOf(id(stack.projectionFailures)) } },
    });
    for (const queue of [stack.projectionFailures, stack.triggerFailures])
      expect(template.toJSON().Resources[id(queue)].Properties.SqsManagedSseEnabled).toBe(true);
  });

  it('queues and the topic refuse requests without TLS', () => {
    const { template, stack, id } = simulated;
    const deniesInsecure = (target: Record<string, unknown>) =>
      Match.objectLike({
        ...target,
        PolicyDocument: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        }),
      });
    for (const queue of [stack.projectionFailures, stack.triggerFailures])
      template.hasResourceProperties(
        'AWS::SQS::QueuePolicy',
        deniesInsecure({ Queues: [{ Ref: id(queue) }] }),
      );
    template.hasResourceProperties(
      'AWS::SNS::TopicPolicy',
      deniesInsecure({ Topics: [{ Ref: id(stack.topic) }] }),
    );
  });
});

describe('the outcome topic', () => {
  it('is encrypted with KMS', () => {
    simulated.template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: Match.anyValue(),
    });
  });
});

describe('the REST API', () => {
  const { template, stack } = simulated;

  it('serves exactly the router routes, including the six of the design', () => {
    const served = stack.api.methods.map((m) => `${m.httpMethod} ${m.resource.path}`).sort();
    expect(served).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(served).toEqual(
      expect.arrayContaining([
        'POST /clusters',
        'GET /clusters/{clusterId}/configuration',
        'GET /clusters/{clusterId}/events',
        'GET /clusters/{clusterId}/status',
        'POST /clusters/{clusterId}/recoveries',
        'GET /clusters/{clusterId}/recoveries/{incidentId}',
      ]),
    );
  });

  it('authorizes every method with IAM and validates path parameters', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(ROUTES.length);
    for (const method of methods) {
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(method.Properties.RequestValidatorId).toBeDefined();
      expect(method.Properties.Integration).toMatchObject({ Type: 'AWS_PROXY' });
    }
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: {
        'method.request.path.clusterId': true,
        'method.request.path.incidentId': true,
      },
    });
  });

  it('logs access, traces and throttles the stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('requestId'),
      },
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 20,
          ThrottlingBurstLimit: 40,
          LoggingLevel: 'ERROR',
        }),
      ]),
    });
  });
});

describe('EventBridge rules', () => {
  const { template, stack, id } = simulated;
  const target = Match.arrayWith([
    Match.objectLike({
      Arn: arnOf(id(stack.lambdas.StartFromEvent.fn)),
      DeadLetterConfig: { Arn: arnOf(id(stack.triggerFailures)) },
    }),
  ]);

  it('send CloudWatch alarms that go to ALARM to the trigger', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: target,
    });
  });

  it('send EC2 instances that stop, shut down or terminate to the trigger', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification'],
        detail: { state: ['stopped', 'terminated', 'shutting-down'] },
      },
      Targets: target,
    });
  });

  it('keep events the trigger failed to handle', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id(stack.lambdas.StartFromEvent.fn) },
      DestinationConfig: { OnFailure: { Destination: arnOf(id(stack.triggerFailures)) } },
    });
  });
});

describe('outputs and context', () => {
  it('outputs the API URL, the state machine, the topic and the table names', () => {
    const outputs = Object.keys(simulated.template.findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'StateMachineArn',
        'NotifyTopicArn',
        ...Object.values(TABLES).map((t) => `${t.id}TableName`),
      ]),
    );
  });

  it('refuses an SSM deployment without a coordinator instance, and an unknown backend', () => {
    const build = (context: Record<string, string>) => () =>
      new RecoverSegStack(new App({ context }), 'RecoverSeg');
    expect(build({ 'recoverseg:clusterBackend': 'ssm', 'recoverseg:clusterId': 'prod' })).toThrow(
      /needs recoverseg:coordinatorInstanceId/,
    );
    expect(
      build({
        'recoverseg:clusterBackend': 'ssm',
        'recoverseg:coordinatorInstanceId': 'i-0123456789abcdef0',
      }),
    ).toThrow(/needs recoverseg:clusterId/);
    expect(build({ ...BACKENDS.ssm, 'recoverseg:coordinatorInstanceId': 'coordinator-1' })).toThrow(
      /must be an EC2 instance id/,
    );
    expect(build({ 'recoverseg:clusterBackend': 'docker' })).toThrow(
      /must be "simulated" or "ssm"/,
    );
  });
});
