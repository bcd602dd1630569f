/**
 * What the installed @anthropic-ai/sdk says about models, read from the text of its files: it
 * does not export its deprecation list. For the tests that hold modelRetirements.ts and
 * sampleModels.ts to the SDK, so an SDK upgrade cannot drift from them unnoticed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CalendarDay } from '../../contract/src/api/modelRetirements.ts';

const sdkDir = dirname(createRequire(import.meta.url).resolve('@anthropic-ai/sdk'));

/** The SDK's files that declare a `DEPRECATED_MODELS` table (it keeps one per resource). */
export const SDK_DEPRECATION_FILES = [
  'resources/messages/messages.js',
  'resources/beta/messages/messages.js',
  'internal/data/deprecated-models.js',
] as const;

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function sdkFile(path: string): string {
  return readFileSync(join(sdkDir, path), 'utf8');
}

export function sdkVersion(): string {
  return (JSON.parse(sdkFile('package.json')) as { version: string }).version;
}

/** "November 30th, 2026" → "2026-11-30". */
export function calendarDayOf(sdkDate: string): CalendarDay {
  const match = /^([A-Z][a-z]+) (\d{1,2})(?:st|nd|rd|th)?, (\d{4})$/.exec(sdkDate);
  const month = MONTHS.indexOf(match?.[1] ?? '') + 1;
  if (match === null || month === 0) throw new Error(`not an SDK end-of-life date: ${sdkDate}`);
  return `${match[3] ?? ''}-${String(month).padStart(2, '0')}-${(match[2] ?? '').padStart(2, '0')}`;
}

/** model → end-of-life day, from one file's `DEPRECATED_MODELS = { 'model': 'date', … }`. */
export function sdkDeprecations(path: (typeof SDK_DEPRECATION_FILES)[number]): Map<string, string> {
  const table = /DEPRECATED_MODELS = \{([^}]*)\}/.exec(sdkFile(path))?.[1];
  if (table === undefined) throw new Error(`no DEPRECATED_MODELS table in the SDK's ${path}`);
  return new Map(
    [...table.matchAll(/'([^']+)':\s*'([^']+)'/g)].map(([, model = '', date = '']) => [
      model,
      calendarDayOf(date),
    ]),
  );
}

/** The model names of the SDK's `Model` type (its open `string & {}` arm aside). */
export function sdkModelNames(): string[] {
  const declaration = /export type Model = ([^;]*);/.exec(
    sdkFile('resources/messages/messages.d.ts'),
  )?.[1];
  if (declaration === undefined) throw new Error("no Model type in the SDK's messages.d.ts");
  return [...declaration.matchAll(/'([^']+)'/g)].map(([, model = '']) => model);
}
