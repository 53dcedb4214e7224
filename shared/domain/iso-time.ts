/**
 * Seconds since the epoch of a UTC ISO time as the log stores it (`2026-12-03T08:11:15.000Z`),
 * for the domain, which has no clock and no Date: days from the civil date (Howard Hinnant's
 * days_from_civil), then the time of day. Undefined for any other text.
 */
export function isoSeconds(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  const days = era * 146097 + dayOfEra - 719468;
  const fraction = m[7] ? Number(`0.${m[7]}`) : 0;
  return days * 86400 + hour * 3600 + minute * 60 + second + fraction;
}

/** Seconds from `from` to `to`; undefined when either is unknown or not an ISO UTC time. */
export function secondsBetween(
  from: string | undefined,
  to: string | undefined,
): number | undefined {
  const a = from === undefined ? undefined : isoSeconds(from);
  const b = to === undefined ? undefined : isoSeconds(to);
  return a === undefined || b === undefined ? undefined : b - a;
}
