/**
 * Each policy setting is declared once, in the schema: a guard component takes the document's
 * value as it is. This fails when a component restates a default or a bound of a setting it
 * uses — `maxQueue ?? 64`, `maxAttempts > 20`, `Math.min(maxDelayMs, 8000)` — on the line that
 * names the setting.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const GUARD = fileURLToPath(new URL('.', import.meta.url));

/** Each component's settings, as the resolved policy document names them. */
const SETTINGS: Readonly<Record<string, readonly string[]>> = {
  'bulkhead.ts': ['maxConcurrent', 'maxQueue', 'queueTimeoutMs'],
  'rateLimiter.ts': ['perSecond', 'burst', 'inputPerMinute', 'outputPerMinute', 'maxWaitMs'],
  'retry.ts': ['maxAttempts', 'initialDelayMs', 'maxDelayMs'],
  'timeout.ts': ['timeoutMs'],
  'breakerOptions.ts': [
    'failureThreshold',
    'successThreshold',
    'openDurationMs',
    'maxOpenDurationMs',
    'halfOpenMaxCalls',
    'thresholdPercent',
    'minimumCalls',
    'durationMs',
  ],
  'circuitBreaker.ts': ['failureThreshold', 'successThreshold', 'halfOpenMaxCalls'],
};

/** A literal default (`?? 64`) or a literal bound (`> 20`, `<= 1_000`). */
const RESTATED = /\?\?\s*-?[\d_.]+\b|[<>]=?\s*-?[\d_.]*[1-9][\d_.]*\b/;
/** The arguments of each innermost Math.min / Math.max: a clamp to a literal. */
const CLAMP = /Math\.(?:min|max)\(([^()]*)\)/g;
const LITERAL = /(?<![\w.])[1-9][\d_]*\b/;

export function restatements(file: string, source: string): string[] {
  const fields = SETTINGS[file] ?? [];
  const found: string[] = [];
  source.split('\n').forEach((line, index) => {
    const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
    const names = (text: string): boolean =>
      fields.some((f) => new RegExp(`\\b${f}\\b`).test(text));
    if (!names(code)) return;
    const clamped = [...code.matchAll(CLAMP)].some(
      ([, args = '']) => names(args) && LITERAL.test(args),
    );
    if (RESTATED.test(code) || clamped) found.push(`${file}:${index + 1}: ${line.trim()}`);
  });
  return found;
}

describe('guard components restate no setting', () => {
  it('finds the kinds of restatement it is meant to', () => {
    expect(restatements('bulkhead.ts', '    maxQueue: input.maxQueue ?? 64,')).toHaveLength(1);
    expect(
      restatements('retry.ts', "  if (o.maxAttempts > 20) throw new Error('x');"),
    ).toHaveLength(1);
    expect(restatements('retry.ts', '  const cap = Math.min(o.maxDelayMs, 8000);')).toHaveLength(1);
    expect(restatements('retry.ts', '  if (attempt >= o.maxAttempts) return NO_RETRY;')).toEqual(
      [],
    );
  });

  it.each(Object.keys(SETTINGS))('%s takes the document’s values as they are', (file) => {
    expect(readdirSync(GUARD)).toContain(file);
    expect(restatements(file, readFileSync(`${GUARD}/${file}`, 'utf8'))).toEqual([]);
  });
});
