import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario, runScenario } from '#local/scenario.ts';
import { documentClient } from '#store/clients.ts';
import { ROOT, log, median, met, round, time, type BenchContext, type Figures } from './context.ts';
import { HttpTargetCounter, RequestCounter } from './dynamodb-counter.ts';

/**
 * The seed incident (scenarios/seed-host-failure.json: segment-2 powered off) end to end on the
 * local workflow, zero simulated time: how long the orchestration takes and how many DynamoDB
 * requests it makes.
 */
export async function seed(context: BenchContext): Promise<Figures> {
  const { runtime, recorder } = await context.workflow();
  const seedFile = JSON.parse(readFileSync(join(ROOT, 'scenarios/seed-host-failure.json'), 'utf8'));
  const counter = new RequestCounter().install(documentClient()).install(runtime.client);
  const streams = new HttpTargetCounter('DynamoDBStreams_');
  const runs: {
    orchestrationMs: number;
    scenarioMs: number;
    requests: ReturnType<RequestCounter['snapshot']>;
    streamRequests: number;
  }[] = [];
  const warmups = context.quick ? 1 : 2;
  const measured = context.quick ? 3 : 7;
  const workflowRun = runtime.workflow.run.bind(runtime.workflow);
  try {
    for (let i = 0; i < warmups + measured; i++) {
      const scenario = parseScenario({
        ...seedFile,
        cluster: `seed-${i}`,
        simulation: { ...seedFile.simulation, timeScale: 0 },
      });
      // The orchestration alone: the scenario around it also registers the cluster and
      // injects the fault.
      let orchestrationMs = 0;
      runtime.workflow.run = async (request) => {
        counter.reset();
        streams.reset();
        const { ms, value } = await time(() => workflowRun(request));
        orchestrationMs = ms;
        return value;
      };
      const { ms, value: report } = await time(() =>
        runScenario(runtime, recorder, scenario, { pollSeconds: 0 }),
      );
      if (report.outcome.status !== 'succeeded')
        throw new Error(`seed scenario failed: ${report.outcome.error}`);
      if (i >= warmups)
        runs.push({
          orchestrationMs,
          scenarioMs: ms,
          requests: counter.snapshot(),
          streamRequests: streams.total,
        });
    }
  } finally {
    runtime.workflow.run = workflowRun;
    streams.close();
  }
  const middle = [...runs].sort((a, b) => a.orchestrationMs - b.orchestrationMs)[
    Math.floor(runs.length / 2)
  ]!;
  const orchestrationMs = round(middle.orchestrationMs);
  const figures = {
    orchestrationMs,
    orchestrationMsRuns: runs.map((r) => round(r.orchestrationMs)),
    scenarioMs: round(median(runs.map((r) => r.scenarioMs))),
    dynamodbRequests: middle.requests.total,
    dynamodbHttpAttempts: middle.requests.attempts,
    dynamodbRequestsByOperation: middle.requests.byOperation,
    streamRequestsDuringRun: middle.streamRequests,
    method:
      'orchestrationMs: StartRecovery to FinishRecovery of the seed incident (segment-2 powered off) on the local workflow, simulation timeScale 0, pollSeconds 0, median of the measured runs after 1 (quick) or 2 warm-up runs. ' +
      "dynamodbRequests: middleware at the initialize step of the handlers' shared DynamoDB client (documentClient()) and of the runtime client, one count per send (logical request, retries not counted; dynamodbHttpAttempts counts each HTTP attempt at the deserialize step). " +
      "It includes the stream projector's table reads and writes (it runs in process on the same shared client); its DynamoDB Streams calls (DescribeStream, GetShardIterator, GetRecords) are counted apart in streamRequestsDuringRun, as HTTP requests (X-Amz-Target DynamoDBStreams_*) seen on Node's http.client.request.start diagnostics channel.",
  };
  log(`seed: ${JSON.stringify(figures)}`);
  return {
    ...figures,
    readme: [
      {
        figure: 'Seed incident, orchestration (local)',
        value: `${orchestrationMs} ms, ${figures.dynamodbRequests} DynamoDB requests`,
        target: `< 2000 ms: ${met(orchestrationMs < 2000)}`,
      },
    ],
  };
}
