/**
 * Maintenance windows for `gprecoverseg -r`, which cancels every query in flight: the DBA names
 * when that may happen, e.g. `Sun 02:00-04:00 UTC`, `Sat,Sun 01:00-05:00 UTC`,
 * `Mon-Fri 22:00-02:00 UTC` (crosses midnight: opens on the named days), `daily 03:00-04:00 UTC`.
 * Pure: the caller passes the time.
 */

export const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

export interface MaintenanceWindow {
  /** Days the window opens on (0 = Sunday, UTC). */
  days: number[];
  /** Minutes after midnight UTC. */
  startMinute: number;
  /** Minutes the window stays open (1 .. 1440). */
  lengthMinutes: number;
}

const FORMAT = /^(\S+) ([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2}) UTC$/;
const HELP =
  'expected DAYS HH:MM-HH:MM UTC, e.g. "Sun 02:00-04:00 UTC" or "Mon-Fri 22:00-02:00 UTC"';

/** Why a window text is not a window that opens, or undefined when it is one. */
export function windowProblem(text: string): string | undefined {
  try {
    parseWindow(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function day(name: string, text: string): number {
  const index = DAYS.findIndex((d) => d.toLowerCase() === name.toLowerCase());
  if (index < 0) throw new Error(`window "${text}": ${name} is not a day (Sun, Mon, ... Sat)`);
  return index;
}

function days(spec: string, text: string): number[] {
  if (spec.toLowerCase() === 'daily') return [0, 1, 2, 3, 4, 5, 6];
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const [from, to, ...rest] = part.split('-');
    if (rest.length > 0 || !from) throw new Error(`window "${text}": day range ${part}: ${HELP}`);
    const first = day(from, text);
    const last = to === undefined ? first : day(to, text);
    for (let d = first; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === last) break;
    }
  }
  return [...out].sort((a, b) => a - b);
}

function minute(hh: string, mm: string, text: string, end: boolean): number {
  const h = Number(hh);
  const m = Number(mm);
  if (m > 59 || h > 24 || (h === 24 && (m > 0 || !end)))
    throw new Error(`window "${text}": ${hh}:${mm} is not a time of day`);
  return h * 60 + m;
}

/** Throws an Error naming what is wrong: a window must parse and must open. */
export function parseWindow(text: string): MaintenanceWindow {
  const match = FORMAT.exec(text.trim());
  if (!match) throw new Error(`window "${text}": ${HELP}`);
  const [, spec, h1, m1, h2, m2] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const startMinute = minute(h1, m1, text, false);
  const endMinute = minute(h2, m2, text, true);
  // A window of zero minutes never opens; an end before the start crosses midnight.
  if (endMinute === startMinute)
    throw new Error(
      `window "${text}": it opens and closes at the same minute, so it never opens; name a window of at least one minute`,
    );
  const lengthMinutes =
    endMinute > startMinute ? endMinute - startMinute : endMinute + 1440 - startMinute;
  return { days: days(spec, text), startMinute, lengthMinutes };
}

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
/** 1970-01-01, day 0 of epoch time, was a Thursday. */
const EPOCH_WEEKDAY = 4;

/**
 * The opening (epoch ms) that contains `at` (epoch ms), or the next one after it. Epoch time
 * has no leap seconds, so days are whole multiples of 86,400,000 ms from midnight UTC.
 */
export function nextOpening(
  window: MaintenanceWindow,
  at: number,
): { opens: number; closes: number } {
  const today = Math.floor(at / DAY);
  // Yesterday's opening may still be open (a window crossing midnight), so start a day back.
  for (let day = today - 1; day <= today + 7; day++) {
    if (!window.days.includes((((day + EPOCH_WEEKDAY) % 7) + 7) % 7)) continue;
    const opens = day * DAY + window.startMinute * MINUTE;
    const closes = opens + window.lengthMinutes * MINUTE;
    if (closes > at) return { opens, closes };
  }
  throw new Error('a parsed window opens every week');
}

export const isWindowOpen = (window: MaintenanceWindow, at: number): boolean =>
  nextOpening(window, at).opens <= at;
