import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

/** How a run ended, as every subscriber (SNS, the CLI) hears it. */
export interface RunOutcome {
  clusterId: string;
  incidentId: string;
  /** `awaiting-rebalance`: redundant again, `gprecoverseg -r` waits; `reason` says what to run. */
  status: 'succeeded' | 'failed' | 'awaiting-rebalance' | 'cancelled';
  outcome?: string;
  phase?: string;
  reason?: string;
}

export interface Notifier {
  notify(outcome: RunOutcome): Promise<void>;
}

export class SnsNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(outcome: RunOutcome): Promise<void> {
    const what =
      outcome.status === 'succeeded'
        ? `recovered (${outcome.outcome})`
        : outcome.status === 'failed'
          ? `recovery failed in ${outcome.phase}: ${outcome.reason}`
          : outcome.status === 'cancelled'
            ? `recovery cancelled: ${outcome.reason}`
            : `rebalance awaiting approval: ${outcome.reason}`;
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: `recoverseg: cluster ${outcome.clusterId} ${outcome.status}`.slice(0, 100),
        Message: JSON.stringify({
          ...outcome,
          summary: `cluster ${outcome.clusterId}, incident ${outcome.incidentId}: ${what}`,
        }),
        MessageAttributes: {
          clusterId: { DataType: 'String', StringValue: outcome.clusterId },
          status: { DataType: 'String', StringValue: outcome.status },
        },
      }),
    );
  }
}
