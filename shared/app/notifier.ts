import type * as sns from '@aws-sdk/client-sns';
import { clientOnFirstUse } from '#cluster/aws/client-on-first-use.ts';

/** How a run ended, or what the watcher found, as every subscriber (SNS, the CLI) hears it. */
export interface RunOutcome {
  clusterId: string;
  /** For `detected`: the incident a recovery of it would run as. */
  incidentId: string;
  /**
   * `awaiting-rebalance`: redundant again, `gprecoverseg -r` waits; `detected`: the watcher
   * saw a failure and started nothing (policy notify, or a double fault). `reason` says what
   * to run.
   */
  status:
    | 'succeeded'
    | 'failed'
    | 'awaiting-rebalance'
    | 'cancelled'
    | 'detected'
    | 'awaiting-activation'
    | 'failover-refused'
    | 'failed-over'
    | 'standby-initialized'
    | 'standby-not-initialized';
  outcome?: string;
  phase?: string;
  reason?: string;
}

export interface Notifier {
  notify(outcome: RunOutcome): Promise<void>;
}

/** What the summary line of each notice says. */
const SUMMARIES: Record<RunOutcome['status'], (o: RunOutcome) => string> = {
  succeeded: (o) => `recovered (${o.outcome})`,
  failed: (o) => `recovery failed in ${o.phase}: ${o.reason}`,
  cancelled: (o) => `recovery cancelled: ${o.reason}`,
  'awaiting-rebalance': (o) => `rebalance awaiting approval: ${o.reason}`,
  detected: (o) => `failure detected, no recovery started: ${o.reason}`,
  'awaiting-activation': (o) =>
    `coordinator lost, standby activation awaiting approval: ${o.reason}`,
  'failover-refused': (o) => `coordinator failover refused, nothing activated: ${o.reason}`,
  'failed-over': (o) => `coordinator failed over to its standby: ${o.reason}`,
  'standby-initialized': (o) => `standby coordinator initialized: ${o.reason}`,
  'standby-not-initialized': (o) => `standby coordinator not initialized: ${o.reason}`,
};

/** A notice's summary line, as SNS subscribers and `serve`'s output read it. */
export const summaryOf = (outcome: RunOutcome): string =>
  `cluster ${outcome.clusterId}, incident ${outcome.incidentId}: ${SUMMARIES[outcome.status](outcome)}`;

/** The SNS client's module, which a notifier loads when it first publishes. */
export type SnsSdk = typeof sns;

/**
 * The run's outcome on the stack's SNS topic. The client is loaded at the first notice (the
 * functions that publish one pass its loader): most invocations never publish, and a Lambda
 * parses it only if one does.
 */
export class SnsNotifier implements Notifier {
  private readonly sns: () => Promise<{ sdk: SnsSdk; client: sns.SNSClient }>;

  constructor(
    sdk: () => Promise<SnsSdk>,
    private readonly topicArn: string,
  ) {
    this.sns = clientOnFirstUse(sdk, (loaded) => new loaded.SNSClient({}));
  }

  async notify(outcome: RunOutcome): Promise<void> {
    const { sdk, client } = await this.sns();
    await client.send(
      new sdk.PublishCommand({
        TopicArn: this.topicArn,
        Subject: `recoverseg: cluster ${outcome.clusterId} ${outcome.status}`.slice(0, 100),
        Message: JSON.stringify({
          ...outcome,
          summary: summaryOf(outcome),
        }),
        MessageAttributes: {
          clusterId: { DataType: 'String', StringValue: outcome.clusterId },
          status: { DataType: 'String', StringValue: outcome.status },
        },
      }),
    );
  }
}
