import {
  PROMOTION_RULES,
  REBALANCE_POLICY_RULES,
  RECOVERY_OUTCOME_RULES,
  RECOVERY_TYPE_RULES,
  RELOCATION_RULES,
  RUN_PHASE_RULES,
  SOURCE_RULES,
  SYNC_RULES,
  MILESTONE_RULES,
} from '#domain/decisions.ts';
import {
  ACTIVATION_RULES,
  COORDINATOR_LOOK_RULES,
  COORDINATOR_FAILOVER_RULES,
  FENCE_RULES,
  STANDBY_OBSERVATION_RULES,
} from '#domain/coordinator.ts';
import { FTS_RULES } from '#domain/fts-rules.ts';
import { FAILURE_PHASE_RULES, FINISH_RULES, PLAN_RULES, START_RULES } from '#domain/run-rules.ts';
import type { Table } from '#domain/rules.ts';
import type { WorkflowTask } from '#domain/step-contract.ts';
import { WATCH_PROBE_RULES, WATCH_RULES } from '#domain/watch.ts';

/** One table of the book: which step reads it, and the question it answers. */
export interface Chapter {
  name: string;
  /** The workflow Task that decides through it, or who else does. */
  readBy:
    | WorkflowTask
    | 'Greenplum FTS (the simulated cluster plays it)'
    | 'the API and the CLI'
    | 'WatchCluster, at every look'
    | 'WatchCluster, when a look cannot read the coordinator';
  question: string;
  rules: Table<never, unknown>;
}

/** Every decision table, in the order a failure meets them: seen by the watcher, then run. */
export const RULE_BOOK: readonly Chapter[] = [
  {
    name: 'WATCH_PROBE_RULES',
    readBy: 'WatchCluster, at every look',
    question: 'Does the look request an FTS probe and read again?',
    rules: WATCH_PROBE_RULES,
  },
  {
    name: 'WATCH_RULES',
    readBy: 'WatchCluster, at every look',
    question: 'What does the watcher do about what it saw?',
    rules: WATCH_RULES,
  },
  {
    name: 'RELOCATION_RULES',
    readBy: 'PlanRecovery',
    question: 'May the request move segments to another host?',
    rules: RELOCATION_RULES,
  },
  {
    name: 'START_RULES',
    readBy: 'StartRecovery',
    question: 'What does the log hold when a run takes the lock?',
    rules: START_RULES,
  },
  {
    name: 'REBALANCE_POLICY_RULES',
    readBy: 'StartRecovery',
    question: 'Whose rebalance policy does the run follow?',
    rules: REBALANCE_POLICY_RULES,
  },
  {
    name: 'FTS_RULES',
    readBy: 'Greenplum FTS (the simulated cluster plays it)',
    question: 'What does FTS write after probing a content?',
    rules: FTS_RULES,
  },
  {
    name: 'PROMOTION_RULES',
    readBy: 'CheckPromotion',
    question: 'Did FTS promote every mirror it had to?',
    rules: PROMOTION_RULES,
  },
  {
    name: 'RECOVERY_TYPE_RULES',
    readBy: 'PlanRecovery',
    question: 'How is each content recovered?',
    rules: RECOVERY_TYPE_RULES,
  },
  {
    name: 'PLAN_RULES',
    readBy: 'PlanRecovery',
    question: 'What becomes of the plan?',
    rules: PLAN_RULES,
  },
  {
    name: 'SOURCE_RULES',
    readBy: 'RecoverSegments',
    question: 'May gprecoverseg copy from the planned sources?',
    rules: SOURCE_RULES,
  },
  {
    name: 'RECOVERY_OUTCOME_RULES',
    readBy: 'CheckRecovery',
    question: 'What next, after polling gprecoverseg (or gprecoverseg -r)?',
    rules: RECOVERY_OUTCOME_RULES,
  },
  {
    name: 'SYNC_RULES',
    readBy: 'CheckSync',
    question: 'What next, after checking replication?',
    rules: SYNC_RULES,
  },
  {
    name: 'MILESTONE_RULES',
    readBy: 'CheckSync',
    question: 'Is the cluster redundant again, or rebalanced, by this incident?',
    rules: MILESTONE_RULES,
  },
  {
    name: 'FINISH_RULES',
    readBy: 'FinishRecovery',
    question: 'Which outcome goes on record?',
    rules: FINISH_RULES,
  },
  {
    name: 'FAILURE_PHASE_RULES',
    readBy: 'RecordFailure',
    question: 'In which phase did the run fail?',
    rules: FAILURE_PHASE_RULES,
  },
  {
    name: 'STANDBY_OBSERVATION_RULES',
    readBy: 'WatchCluster, at every look',
    question: "Does the look record the standby's replication?",
    rules: STANDBY_OBSERVATION_RULES,
  },
  {
    name: 'COORDINATOR_LOOK_RULES',
    readBy: 'WatchCluster, when a look cannot read the coordinator',
    question: 'Is the coordinator lost, and does the look start a failover?',
    rules: COORDINATOR_LOOK_RULES,
  },
  {
    name: 'COORDINATOR_FAILOVER_RULES',
    readBy: 'StartFailover',
    question: "May the lost coordinator's standby be activated?",
    rules: COORDINATOR_FAILOVER_RULES,
  },
  {
    name: 'FENCE_RULES',
    readBy: 'DecideActivation',
    question: 'How is the old coordinator kept down?',
    rules: FENCE_RULES,
  },
  {
    name: 'ACTIVATION_RULES',
    readBy: 'DecideActivation',
    question: 'Does the activation go ahead now?',
    rules: ACTIVATION_RULES,
  },
  {
    name: 'RUN_PHASE_RULES',
    readBy: 'the API and the CLI',
    question: 'Where is a run, in words?',
    rules: RUN_PHASE_RULES,
  },
];

/** A row's outcome as one word, or its fields as `key=value`. */
const outcome = (then: unknown): string =>
  Array.isArray(then)
    ? then.length === 0
      ? 'nothing'
      : then.join('+')
    : typeof then === 'object' && then !== null
      ? Object.entries(then)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ')
      : String(then);

/**
 * Every table, rule by rule in the order they are read, like `pg_autoctl do fsm`: the first
 * row that holds wins, so the order is the policy.
 */
export function renderRuleBook(book: readonly Chapter[] = RULE_BOOK): string {
  const chapters = book.map((chapter) => {
    const outcomes = chapter.rules.map((r) => outcome(r.then));
    const width = Math.max(...outcomes.map((o) => o.length));
    return [
      `${chapter.name}: ${chapter.question} (${chapter.readBy})`,
      ...chapter.rules.map(
        (r, i) => `  ${String(i + 1).padStart(2)}  ${outcomes[i]!.padEnd(width)}  ${r.rule}`,
      ),
    ].join('\n');
  });
  return (
    ['recoverseg rule book: in each table the first row that holds wins.', ...chapters].join(
      '\n\n',
    ) + '\n'
  );
}
