/**
 * Calendar periods in a time zone: the Day, Week (from Monday) or Month an instant falls in, as
 * the instants where it starts and ends. A period starts at midnight on the zone's wall clock,
 * so a Day in Europe/Berlin lasts 23 hours in March and 25 in October. Pure: the instant is
 * given, never read from a clock.
 */
import type { BudgetFields } from '../policy/generated/documentSettingTypes.ts';

export type BudgetPeriod = BudgetFields['period'];

export interface CalendarPeriod {
  /** The first millisecond of the period. */
  readonly startMs: number;
  /** The first millisecond of the next period. */
  readonly endMs: number;
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (found === undefined) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** Whether the zone database knows `name` (an IANA name such as Europe/Berlin, or UTC). */
export function isTimeZone(name: string): boolean {
  try {
    formatter(name);
    return true;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

/** The zone's wall-clock time at `instantMs`, as if it were UTC (whole seconds). */
function wallMs(instantMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instantMs))
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/**
 * The first instant of a wall-clock midnight (`wall` as if UTC). Of the zone's offsets around
 * it, the earliest instant whose wall clock is at or past midnight: when midnight happens twice
 * the first, when a transition skips it the moment the day begins.
 */
function midnightInstant(wall: number, timeZone: string): number {
  const offsets = new Set(
    [wall - DAY_MS, wall, wall + DAY_MS].map((at) => wallMs(at, timeZone) - at),
  );
  const candidates = [...offsets]
    .map((offset) => wall - offset)
    .filter((instant) => wallMs(instant, timeZone) >= wall);
  return Math.min(...candidates);
}

/** The wall-clock midnights (as if UTC) that start the period around `wallDay` and the next. */
function periodMidnights(wallDay: Date, period: BudgetPeriod): [number, number] {
  const y = wallDay.getUTCFullYear();
  const m = wallDay.getUTCMonth();
  const d = wallDay.getUTCDate();
  if (period === 'Day') return [Date.UTC(y, m, d), Date.UTC(y, m, d + 1)];
  if (period === 'Month') return [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1)];
  // Weeks start on Monday: getUTCDay() is 0 on Sunday.
  const monday = d - ((wallDay.getUTCDay() + 6) % 7);
  return [Date.UTC(y, m, monday), Date.UTC(y, m, monday + 7)];
}

/** The period `atMs` falls in, in `timeZone` (which must be one isTimeZone accepts). */
export function calendarPeriod(
  atMs: number,
  period: BudgetPeriod,
  timeZone: string,
): CalendarPeriod {
  const [start, end] = periodMidnights(new Date(wallMs(atMs, timeZone)), period);
  return { startMs: midnightInstant(start, timeZone), endMs: midnightInstant(end, timeZone) };
}
