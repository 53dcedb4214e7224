import { describe, expect, it } from 'vitest';
import * as z from '#domain/zod.ts';
import { eventDataSchemas, newEventSchema, recordedEventSchema } from '#domain/events.ts';
import { builtOnFirstUse } from '#domain/lazy-schemas.ts';
import { parseOrThrow } from '#domain/validation.ts';

describe('builtOnFirstUse', () => {
  it('builds each schema when it is first read, once, and lists every name', () => {
    const built: string[] = [];
    const schemas = builtOnFirstUse({
      A: () => (built.push('A'), z.strictObject({ a: z.string() })),
      B: () => (built.push('B'), z.number()),
    });
    expect(built).toEqual([]);
    expect(Object.keys(schemas)).toEqual(['A', 'B']);
    expect(schemas.A.parse({ a: 'x' })).toEqual({ a: 'x' });
    expect(schemas.A).toBe(schemas.A);
    expect(built).toEqual(['A']);
  });
});

describe('events parsed through schemas built on first use', () => {
  it('still refuses bad data, naming the field', () => {
    expect(() =>
      parseOrThrow(newEventSchema, { type: 'SegmentMarkedDown', data: { dbid: 'two' } }, 'e'),
    ).toThrow(/^e\.data\.dbid: /);
    expect(() =>
      newEventSchema.parse({ type: 'SegmentMarkedDown', data: { dbid: 2, extra: 1 } }),
    ).toThrow(/extra/);
    expect(() =>
      newEventSchema.parse({
        type: 'RecoveryPlanned',
        data: { incidentId: 'i', items: [], part: 3 },
      }),
    ).toThrow(/part and parts come together/);
    expect(() => newEventSchema.parse({ type: 'SegmentExploded', data: {} })).toThrow();
  });

  it('parses a recorded event by its type, defaults applied', () => {
    const event = recordedEventSchema.parse({
      clusterId: 'c1',
      seq: 1,
      at: '2026-01-01T00:00:00Z',
      idempotencyKey: 'k',
      causation: {},
      type: 'RecoveryCompleted',
      data: {
        incidentId: 'i',
        timings: { requestedAt: '2026-01-01T00:00:00Z', completedAt: '2026-01-01T00:01:00Z' },
      },
    });
    expect(event.data).toMatchObject({ outcome: 'recovered' });
    expect(eventDataSchemas.RecoveryCompleted.shape.outcome.parse(undefined)).toBe('recovered');
  });
});
