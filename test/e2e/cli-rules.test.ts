import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { RULE_BOOK } from '#domain/rule-book.ts';

const BIN = new URL('../../local/bin/recoverseg.js', import.meta.url).pathname;

const recoverseg = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });

describe('recoverseg rules', () => {
  it('prints every table and every row, in the order they are read', () => {
    const { status, stdout, stderr } = recoverseg('rules');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    let from = 0;
    for (const chapter of RULE_BOOK) {
      from = stdout.indexOf(`${chapter.name}: ${chapter.question}`, from);
      expect(from, `${chapter.name} in order`).toBeGreaterThan(-1);
      for (const row of chapter.rules) {
        from = stdout.indexOf(row.rule, from);
        expect(from, `${chapter.name}: ${row.rule}`).toBeGreaterThan(-1);
      }
    }
  });

  it('gives the same book as JSON for machines', () => {
    const { status, stdout } = recoverseg('rules', '--json');
    expect(status).toBe(0);
    const book = JSON.parse(stdout) as { name: string; rules: { rule: string }[] }[];
    expect(book.map((c) => c.name)).toEqual(RULE_BOOK.map((c) => c.name));
    expect(book.map((c) => c.rules.map((r) => r.rule))).toEqual(
      RULE_BOOK.map((c) => c.rules.map((r) => r.rule)),
    );
  });

  it('refuses an argument it does not take, as a usage error', () => {
    const { status, stdout } = recoverseg('rules', '--fsm');
    expect(status).toBe(2);
    expect(stdout).toBe('');
  });
});
