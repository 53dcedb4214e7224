import {
  DoubleFault,
  IncrementalRecoveryFailed,
  PromotionPending,
  RebalanceFailed,
  RecoveryTimeout,
  SourceUnavailable,
  SyncTimeout,
  type DomainError,
} from '#domain/errors.ts';
import { decide, type Table } from '#domain/rules.ts';

/**
 * The one map from a row that stops a step to the error the step throws. Step Functions'
 * Retry and Catch match the error's name: PromotionPending is retried, the rest end the run
 * in RecordFailure.
 */
export const STOP_ERRORS = {
  'double-fault': DoubleFault,
  pending: PromotionPending,
  'sources-unusable': SourceUnavailable,
  fail: IncrementalRecoveryFailed,
  'rebalance-failed': RebalanceFailed,
  'recovery-timeout': RecoveryTimeout,
  'sync-timeout': SyncTimeout,
} as const satisfies Record<string, new (message: string) => DomainError>;

export type Stop = keyof typeof STOP_ERRORS;

const isStop = (then: unknown): then is Stop =>
  typeof then === 'string' && Object.hasOwn(STOP_ERRORS, then);

/**
 * What the operator reads for each stop a table can reach: the cluster objects and what to
 * do. Typed by the table, so a new stop row without its message does not compile.
 */
export type Explanations<C, R> = {
  [S in Extract<R, Stop>]: (context: C, rule: string) => string;
};

/** Decides through `table`; a stop row throws its error, any other row is the step's next. */
export function settle<C, R>(
  table: Table<C, R>,
  context: C,
  explain: Explanations<C, R>,
): { rule: string; then: Exclude<R, Stop> } {
  const { rule, then } = decide(table, context);
  if (isStop(then)) {
    const message = (explain as Record<Stop, (c: C, rule: string) => string>)[then];
    throw new STOP_ERRORS[then](message(context, rule));
  }
  return { rule, then: then as Exclude<R, Stop> };
}
