import { DomainError } from '#domain/errors.ts';

/*
 * The one rule dialect of recoverseg, for the workflow's decisions and for the simulated FTS
 * they are tested against (after pg_auto_failover's fsm.c): a table is read top to bottom and
 * the first row whose `when` holds wins. Its `rule` says why in words; renderRuleBook prints
 * every table, so the whole policy can be read (and each row tested) on its own.
 */

export interface Rule<C, R> {
  /** Why, in words: what the rule book prints and a step's result carries. */
  rule: string;
  when: (context: C) => boolean;
  then: R;
}

export type Table<C, R> = readonly Rule<C, R>[];

/** The last row of every table: it makes the table total. */
export const always = (): boolean => true;

/** A table whose rows all missed: it lacks its `always` row, a bug in the table itself. */
export class TableWithoutDefault extends DomainError {
  override name = 'TableWithoutDefault';
}

export function decide<C, R>(table: Table<C, R>, context: C): { rule: string; then: R } {
  const hit = table.find((r) => r.when(context));
  if (!hit)
    throw new TableWithoutDefault(
      `no row of the table starting "${table[0]?.rule ?? ''}" matches; give it a last row that always holds`,
    );
  return { rule: hit.rule, then: hit.then };
}
