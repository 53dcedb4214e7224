import { describe } from 'vitest';
import {
  FAILURE_PHASE_RULES,
  FINISH_RULES,
  PLAN_RULES,
  START_RULES,
  type FailureContext,
  type FinishContext,
} from '#domain/run-rules.ts';
import { everyRow } from './rows.ts';

describe('START_RULES', () => {
  everyRow(START_RULES, [
    [1, { incidentId: 'i2', open: 'i2' }],
    [2, { incidentId: 'i2', open: 'i1' }],
    [3, { incidentId: 'i2', open: undefined }],
  ]);
});

describe('PLAN_RULES', () => {
  everyRow(PLAN_RULES, [
    [1, { dryRun: true, planned: 0, inProgress: false }],
    [1, { dryRun: true, planned: 4, inProgress: true }],
    [2, { dryRun: false, planned: 0, inProgress: false }],
    [3, { dryRun: false, planned: 4, inProgress: true }],
    [4, { dryRun: false, planned: 4, inProgress: false }],
  ]);
});

describe('FINISH_RULES', () => {
  const finish = (over: Partial<FinishContext>): FinishContext => ({
    dryRun: false,
    unbalanced: false,
    planned: 4,
    rebalanced: true,
    ...over,
  });
  everyRow(FINISH_RULES, [
    [1, finish({ dryRun: true, planned: 0 })],
    [2, finish({ unbalanced: true })],
    [3, finish({ planned: 0, rebalanced: false })],
    [4, finish({ planned: 0, rebalanced: true })],
    [4, finish({})],
  ]);
});

describe('FAILURE_PHASE_RULES', () => {
  const failure = (over: Partial<FailureContext>): FailureContext => ({
    caught: undefined,
    operation: undefined,
    ...over,
  });
  everyRow(FAILURE_PHASE_RULES, [
    [1, failure({ caught: 'recover', operation: 'rebalance' })],
    [2, failure({ caught: 'recover', operation: 'recovery' })],
    [2, failure({ caught: 'sync', operation: 'rebalance' })],
    [3, failure({})],
  ]);
});
