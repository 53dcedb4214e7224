import { describe, expect, it } from 'vitest';
import * as coordinator from '#domain/coordinator.ts';
import * as decisions from '#domain/decisions.ts';
import * as fts from '#domain/fts-rules.ts';
import * as runRules from '#domain/run-rules.ts';
import * as watch from '#domain/watch.ts';
import { RULE_BOOK, renderRuleBook } from '#domain/rule-book.ts';

describe('renderRuleBook: every table, rule by rule, like pg_autoctl do fsm', () => {
  const book = renderRuleBook();
  const chapters = book.split('\n\n').slice(1);

  it('holds every table the domain exports, once', () => {
    const tables = Object.entries({
      ...decisions,
      ...runRules,
      ...fts,
      ...watch,
      ...coordinator,
    }).filter(([name]) => name.endsWith('_RULES'));
    expect(tables.length).toBeGreaterThan(10);
    expect(RULE_BOOK.map((c) => c.name).sort()).toEqual(tables.map(([name]) => name).sort());
    for (const [name, table] of tables)
      expect(RULE_BOOK.find((c) => c.name === name)?.rules, name).toBe(table);
  });

  it('prints one chapter per table, in the book order, each row in table order', () => {
    expect(chapters).toHaveLength(RULE_BOOK.length);
    RULE_BOOK.forEach((chapter, i) => {
      const [heading, ...lines] = chapters[i]!.trimEnd().split('\n');
      expect(heading).toBe(`${chapter.name}: ${chapter.question} (${chapter.readBy})`);
      expect(lines).toHaveLength(chapter.rules.length);
      chapter.rules.forEach((rule, n) => {
        expect(lines[n]).toMatch(new RegExp(`^ +${n + 1}  \\S`));
        expect(lines[n]!.endsWith(`  ${rule.rule}`)).toBe(true);
      });
    });
  });

  it('shows each outcome, objects as key=value', () => {
    const plan = chapters[RULE_BOOK.findIndex((c) => c.name === 'PLAN_RULES')]!;
    expect(plan).toContain(
      '   1  next=dry-run record=true   a dry run: record the plan and finish; gprecoverseg never runs',
    );
    const sync = chapters[RULE_BOOK.findIndex((c) => c.name === 'SYNC_RULES')]!;
    expect(sync.split('\n')[1]).toMatch(/^ {3}1 {2}double-fault {5}a content lost its primary/);
  });
});
