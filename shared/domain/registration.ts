import { InvalidTopology } from '#domain/errors.ts';
import { MAX_SEGMENTS_PER_REGISTRATION_EVENT, type NewEvent } from '#domain/events.ts';
import { configurationProblems } from '#domain/invariants.ts';
import { inParts } from '#domain/parts.ts';
import { sortRows, type SegmentRow } from '#domain/segment.ts';

/**
 * The events that register a cluster: its gp_segment_configuration, validated whole, split
 * into parts small enough for one log item each and appended together.
 */
export function registrationEvents(segments: readonly SegmentRow[]): NewEvent[] {
  const problems = configurationProblems(segments);
  if (problems.length > 0) throw new InvalidTopology(problems);
  const parts = inParts(sortRows(segments), MAX_SEGMENTS_PER_REGISTRATION_EVENT);
  return parts.map((rows, i) => ({
    type: 'ClusterRegistered' as const,
    data: { segments: rows, part: i + 1, parts: parts.length },
  }));
}
