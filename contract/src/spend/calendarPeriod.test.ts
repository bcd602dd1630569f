import { describe, expect, it } from '@jest/globals';
import { calendarPeriod, isTimeZone, type BudgetPeriod } from './calendarPeriod.ts';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
const HOUR = 3_600_000;

describe('a calendar period', () => {
  it.each<[string, string, BudgetPeriod, string, string, string]>([
    [
      'a UTC day runs from midnight to midnight',
      '2026-11-24T15:30:00Z',
      'Day',
      'UTC',
      '2026-11-24T00:00:00.000Z',
      '2026-11-25T00:00:00.000Z',
    ],
    [
      'a Berlin day in winter starts at 23:00 UTC the day before',
      '2026-11-24T15:30:00Z',
      'Day',
      'Europe/Berlin',
      '2026-11-23T23:00:00.000Z',
      '2026-11-24T23:00:00.000Z',
    ],
    [
      'an instant just after Berlin midnight belongs to the new day',
      '2026-11-23T23:00:00Z',
      'Day',
      'Europe/Berlin',
      '2026-11-23T23:00:00.000Z',
      '2026-11-24T23:00:00.000Z',
    ],
    [
      'an instant just before Berlin midnight belongs to the old day',
      '2026-11-23T22:59:59.999Z',
      'Day',
      'Europe/Berlin',
      '2026-11-22T23:00:00.000Z',
      '2026-11-23T23:00:00.000Z',
    ],
    [
      'a week starts on Monday (2026-11-23 is one)',
      '2026-11-29T12:00:00Z',
      'Week',
      'UTC',
      '2026-11-23T00:00:00.000Z',
      '2026-11-30T00:00:00.000Z',
    ],
    [
      'a week that spans a month end',
      '2026-12-01T12:00:00Z',
      'Week',
      'UTC',
      '2026-11-30T00:00:00.000Z',
      '2026-12-07T00:00:00.000Z',
    ],
    [
      'a Berlin week across the October change (Sunday the 25th) lasts 169 hours',
      '2026-10-22T12:00:00Z',
      'Week',
      'Europe/Berlin',
      '2026-10-18T22:00:00.000Z',
      '2026-10-25T23:00:00.000Z',
    ],
    [
      'February 2028 has 29 days',
      '2028-02-15T00:00:00Z',
      'Month',
      'UTC',
      '2028-02-01T00:00:00.000Z',
      '2028-03-01T00:00:00.000Z',
    ],
    [
      'December ends at the next year',
      '2026-12-31T23:59:59Z',
      'Month',
      'UTC',
      '2026-12-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ],
    [
      'the last hour of a Berlin month in UTC is already the next month there',
      '2026-11-30T23:30:00Z',
      'Month',
      'Europe/Berlin',
      '2026-11-30T23:00:00.000Z',
      '2026-12-31T23:00:00.000Z',
    ],
    [
      'a Berlin month that starts in summer time and ends in winter time',
      '2026-10-15T12:00:00Z',
      'Month',
      'Europe/Berlin',
      '2026-09-30T22:00:00.000Z',
      '2026-10-31T23:00:00.000Z',
    ],
    [
      'a New York day in summer',
      '2026-07-04T03:00:00Z',
      'Day',
      'America/New_York',
      '2026-07-03T04:00:00.000Z',
      '2026-07-04T04:00:00.000Z',
    ],
    [
      'a day whose midnight a transition skips starts when the clock resumes (Santiago, 2026-09-06)',
      '2026-09-06T12:00:00Z',
      'Day',
      'America/Santiago',
      '2026-09-06T04:00:00.000Z',
      '2026-09-07T03:00:00.000Z',
    ],
  ])('%s', (_name, instant, period, zone, start, end) => {
    const found = calendarPeriod(at(instant), period, zone);
    expect({ start: iso(found.startMs), end: iso(found.endMs) }).toEqual({ start, end });
  });

  it.each([
    ['the day summer time starts lasts 23 hours', '2026-03-29T12:00:00Z', 23],
    ['the day summer time ends lasts 25 hours', '2026-10-25T12:00:00Z', 25],
    ['an ordinary day lasts 24 hours', '2026-11-24T12:00:00Z', 24],
  ])('in Europe/Berlin, %s', (_name, instant, hours) => {
    const { startMs, endMs } = calendarPeriod(at(instant), 'Day', 'Europe/Berlin');
    expect((endMs - startMs) / HOUR).toBe(hours);
  });

  it('starts the next period where the last one ended', () => {
    const march = calendarPeriod(at('2026-03-15T12:00:00Z'), 'Month', 'Europe/Berlin');
    const april = calendarPeriod(march.endMs, 'Month', 'Europe/Berlin');
    expect(april.startMs).toBe(march.endMs);
    expect(iso(april.startMs)).toBe('2026-03-31T22:00:00.000Z');
  });
});

describe('a time zone name', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Asia/Kolkata'])(
    'accepts %s',
    (name) => {
      expect(isTimeZone(name)).toBe(true);
    },
  );

  it.each(['Mars/Olympus_Mons', 'Europe/Berlinn', ''])('refuses %j', (name) => {
    expect(isTimeZone(name)).toBe(false);
  });
});
