import { describe, expect, it } from 'vitest';
import { isoSeconds, secondsBetween } from '#domain/iso-time.ts';

describe('isoSeconds: the log times without a clock', () => {
  it.each([
    '1970-01-01T00:00:00Z',
    '2000-02-29T23:59:59.999Z',
    '2024-03-01T00:00:00.000Z',
    '2026-12-03T08:11:15.018Z',
    '2100-12-31T12:00:00Z',
  ])('%s is what Date.parse says', (text) => {
    expect(isoSeconds(text)).toBeCloseTo(Date.parse(text) / 1000, 6);
  });

  it.each(['2026-12-03 08:11:15Z', '2026-12-03T08:11:15+01:00', 'yesterday', ''])(
    '%j is not a log time',
    (text) => {
      expect(isoSeconds(text)).toBeUndefined();
    },
  );

  it('measures between two times, or says it cannot', () => {
    expect(secondsBetween('2026-12-03T08:11:15.000Z', '2026-12-03T08:12:26.500Z')).toBe(71.5);
    expect(secondsBetween(undefined, '2026-12-03T08:12:26Z')).toBeUndefined();
    expect(secondsBetween('2026-12-03T08:12:26Z', 'later')).toBeUndefined();
  });
});
