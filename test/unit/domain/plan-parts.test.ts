import { describe, expect, it } from 'vitest';
import { PlanTooLarge, InvalidTransition, ValidationError } from '#domain/errors.ts';
import { emptyState, fold } from '#domain/evolve.ts';
import {
  MAX_SEGMENTS_PER_PLAN,
  MAX_SEGMENTS_PER_PLAN_EVENT,
  type NewEvent,
  type PlanItem,
} from '#domain/events.ts';
import { planEvents } from '#domain/parts.ts';
import { registrationEvents } from '#domain/registration.ts';
import { ITEM_BYTES, itemSize, recordedEvents } from '#store/append.ts';
import { summaryItem } from '#store/configuration-items.ts';
import { AppendRejected } from '#store/errors.ts';
import { createMemoryStores } from '#store/memory.ts';
import { groupMirroredCluster } from '#test/fixtures/clusters.ts';

const at = '2024-12-23T12:00:00.000Z';
const incidentId = 'rack-1';

/** 16,000 segments on two hosts, every mirror down: 8,000 mirrors to recover at once. */
function eightThousandDown() {
  const segments = groupMirroredCluster(2, 4000);
  const mirrors = segments.filter((r) => r.role === 'm');
  const items: PlanItem[] = mirrors.map((m) => ({
    dbid: m.dbid,
    content: m.content,
    sourceDbid: m.content + 2,
    type: 'incremental',
  }));
  const before: NewEvent[] = [
    ...registrationEvents(segments),
    ...mirrors.map((m): NewEvent => ({ type: 'SegmentMarkedDown', data: { dbid: m.dbid } })),
    {
      type: 'RecoveryRequested',
      data: { incidentId, trigger: { source: 'cli' }, options: {} as never },
    },
  ];
  return { before, items };
}

describe('a plan larger than one event', () => {
  const { before, items } = eightThousandDown();
  const requested = fold(before);
  const parts = planEvents(incidentId, items);

  it('is recorded in parts of at most 200 segments and folds to the one plan', () => {
    expect(parts).toHaveLength(items.length / MAX_SEGMENTS_PER_PLAN_EVENT);
    expect(parts.map((e) => e.type === 'RecoveryPlanned' && [e.data.part, e.data.parts])).toEqual(
      parts.map((_, i) => [i + 1, parts.length]),
    );
    const state = fold(parts, requested);
    expect(state.recovery?.plan).toEqual(items);
    expect(state.recovery?.plans).toBe(1);
    expect(state.recovery?.planParts).toBeUndefined();
  });

  it('is one event, without parts, up to 200 segments', () => {
    const small = planEvents(incidentId, items.slice(0, MAX_SEGMENTS_PER_PLAN_EVENT));
    expect(small).toEqual([
      { type: 'RecoveryPlanned', data: { incidentId, items: items.slice(0, 200) } },
    ]);
  });

  it('fits one log item per part even when every segment moves to the longest names allowed', () => {
    const long = `h${'x'.repeat(251)}z`;
    const target = { hostname: long, address: long, port: 65535, datadir: `/${'d'.repeat(1023)}` };
    const [part] = planEvents(
      incidentId,
      items.slice(0, MAX_SEGMENTS_PER_PLAN_EVENT).map((i) => ({ ...i, type: 'full', target })),
    );
    const [recorded] = recordedEvents('c', [part!], {
      expectedSeq: 0,
      idempotencyKey: 'k',
      at,
    });
    expect(itemSize(recorded)).toBeLessThan(ITEM_BYTES);
  });

  it('refuses a plan larger than one run records, naming the incident', () => {
    const more = Array.from({ length: MAX_SEGMENTS_PER_PLAN + 1 }, (_, i) => ({
      ...items[0]!,
      dbid: i + 1,
    }));
    expect(() => planEvents(incidentId, more)).toThrow(PlanTooLarge);
    expect(() => planEvents(incidentId, more)).toThrow(/incident rack-1: 10001 segments/);
  });

  it('refuses, writing nothing, an append that misses a part, reorders them or sends one alone', async () => {
    const stores = createMemoryStores();
    await stores.events.append('c', before, { expectedSeq: 0, idempotencyKey: 'setup', at });
    const appendOf = (events: NewEvent[]) =>
      stores.events.append('c', events, { expectedSeq: before.length, idempotencyKey: 'p', at });
    await expect(appendOf(parts.toSpliced(7, 1))).rejects.toThrow(
      /RecoveryPlanned part 8 of 40 is missing/,
    );
    await expect(appendOf(parts.slice(0, -1))).rejects.toThrow(
      /part 40 of 40 is missing at the end of the append/,
    );
    await expect(appendOf([parts[1]!, parts[0]!, ...parts.slice(2)])).rejects.toThrow(
      AppendRejected,
    );
    await expect(appendOf([parts[5]!])).rejects.toThrow(/part 6 of 40 comes without part 1/);
    expect(await stores.events.readHead('c')).toMatchObject({ lastSeq: before.length });
    expect(await appendOf(parts)).toMatchObject({ lastSeq: before.length + parts.length });
    expect((await stores.events.loadState('c')).recovery?.plan).toHaveLength(8000);
  });

  it('is projected whole, in a summary item that fits one DynamoDB item', async () => {
    const state = fold(parts, requested);
    const summary = summaryItem('c', state);
    expect(itemSize(summary)).toBeLessThan(ITEM_BYTES);
    const stores = createMemoryStores();
    await stores.projection.write('c', emptyState(), state);
    const { state: projected } = await stores.projection.read('c');
    expect(projected.recovery).toEqual(JSON.parse(JSON.stringify(state.recovery)));
    expect(projected.recovery?.plan).toHaveLength(8000);
    expect((await stores.projection.list())[0]).toMatchObject({ recovery: { incidentId } });
  });

  it('refuses a malformed part: part without parts, part past parts, too many segments', () => {
    const data = { incidentId, items: items.slice(0, 2) };
    const bad: [object, RegExp][] = [
      [{ ...data, part: 1 }, /part and parts come together/],
      [{ ...data, part: 3, parts: 2 }, /part at most parts/],
      [{ incidentId, items: items.slice(0, 201) }, /items: Too big/],
      [{ ...data, part: 1, parts: 51 }, /parts: Too big/],
    ];
    for (const [d, message] of bad) {
      const append = () =>
        recordedEvents('c', [{ type: 'RecoveryPlanned', data: d } as NewEvent], {
          expectedSeq: 0,
          idempotencyKey: 'k',
          at,
        });
      expect(append).toThrow(ValidationError);
      expect(append).toThrow(message);
    }
  });

  it('folds no other event while a part is missing', () => {
    expect(() =>
      fold([parts[0]!, { type: 'SegmentRecovered', data: { dbid: items[0]!.dbid } }], requested),
    ).toThrow(
      new InvalidTransition(
        'incident rack-1: plan part 2 of 40 is missing; SegmentRecovered cannot come before it',
      ),
    );
    expect(() => fold([parts[0]!, parts[2]!], requested)).toThrow(
      /plan part 3 of 40 is out of order \(expected part 2\)/,
    );
  });
});
