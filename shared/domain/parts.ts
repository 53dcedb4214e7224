import { PlanTooLarge } from '#domain/errors.ts';
import {
  MAX_SEGMENTS_PER_PLAN,
  MAX_SEGMENTS_PER_PLAN_EVENT,
  type NewEvent,
  type PlanItem,
} from '#domain/events.ts';

/**
 * Facts too large for one log item (a 16,000-row registration, an 8,000-segment plan) are
 * recorded as parts `1..parts` of one event type, appended together in one append: the store
 * writes them under one pending marker, so readers see all of them or none.
 */
export function inParts<T>(items: readonly T[], perPart: number): T[][] {
  const parts = Math.max(1, Math.ceil(items.length / perPart));
  return Array.from({ length: parts }, (_, i) => items.slice(i * perPart, (i + 1) * perPart));
}

/** Which part of which whole an event is, when it is one part of several. */
function partOf(event: NewEvent): { part: number; parts: number } | undefined {
  if (event.type !== 'ClusterRegistered' && event.type !== 'RecoveryPlanned') return undefined;
  const { part, parts } = event.data;
  return part !== undefined && parts !== undefined ? { part, parts } : undefined;
}

/**
 * Why the events of one append do not carry every part they start, in order, or undefined: a
 * part never comes alone, and parts of one whole are never split across appends.
 */
export function partsProblem(events: readonly NewEvent[]): string | undefined {
  let open: { type: string; part: number; parts: number } | undefined;
  for (const [i, event] of events.entries()) {
    const part = partOf(event);
    if (open) {
      if (event.type !== open.type || part?.part !== open.part + 1 || part.parts !== open.parts)
        return `events[${i}]: ${open.type} part ${open.part + 1} of ${open.parts} is missing (found ${event.type}${part ? ` part ${part.part} of ${part.parts}` : ''}); every part goes in one append, in order`;
    } else if (part && part.part !== 1)
      return `events[${i}]: ${event.type} part ${part.part} of ${part.parts} comes without part 1; every part goes in one append, in order`;
    open = part && part.part < part.parts ? { type: event.type, ...part } : undefined;
  }
  return open
    ? `${open.type} part ${open.part + 1} of ${open.parts} is missing at the end of the append; every part goes in one append, in order`
    : undefined;
}

/** The RecoveryPlanned events of a plan: one event, or parts when it is larger than one holds. */
export function planEvents(incidentId: string, items: readonly PlanItem[]): NewEvent[] {
  if (items.length > MAX_SEGMENTS_PER_PLAN)
    throw new PlanTooLarge(
      `incident ${incidentId}: ${items.length} segments to recover, more than the ${MAX_SEGMENTS_PER_PLAN} one run records; run gprecoverseg by hand for some of them, then start a run for the rest`,
    );
  const parts = inParts(items, MAX_SEGMENTS_PER_PLAN_EVENT);
  return parts.map((part, i) => ({
    type: 'RecoveryPlanned' as const,
    data: {
      incidentId,
      items: part,
      ...(parts.length > 1 ? { part: i + 1, parts: parts.length } : {}),
    },
  }));
}
