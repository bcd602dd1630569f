/**
 * The checks a policy document's fields go through (policyValidation.ts): each names the
 * field's path and what it must be, and throws `PolicyInvalid` with what it got. Bounds come
 * from the schema, passed in by the caller.
 */
import { parseDuration } from '../api/duration.ts';
import type { FieldLimits } from '../api/fieldLimits.ts';
import type { SettingBounds } from './settingBounds.ts';

export class PolicyInvalid extends Error {}

export type Json = Record<string, unknown>;

export function fail(path: string, what: string, got: unknown): never {
  throw new PolicyInvalid(
    `${path} ${what}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`,
  );
}

export function obj(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object', v);
  return v as Json;
}

export function optObj(v: unknown, path: string): Json | undefined {
  return v === undefined ? undefined : obj(v, path);
}

/** A string; `bounds` from the schema, else merely non-empty. */
export function str(v: unknown, path: string, bounds: FieldLimits = { minLength: 1 }): string {
  const min = bounds.minLength ?? 0;
  if (typeof v !== 'string' || v.length < min) {
    fail(path, min > 0 ? 'must be a non-empty string' : 'must be a string', v);
  }
  if (bounds.maxLength !== undefined && v.length > bounds.maxLength) {
    fail(path, `must be at most ${bounds.maxLength} characters`, `${v.slice(0, 16)}…`);
  }
  if (bounds.pattern !== undefined && !new RegExp(bounds.pattern, 'u').test(v)) {
    fail(path, `must match ${bounds.pattern}`, v);
  }
  return v;
}

/** `text` with a URL's user:password taken out, for quoting it in an error or a log. */
export function withoutCredentials(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/iu, '$1redacted@');
}

/**
 * An absolute URL within the schema's bounds: parsed first, so "nope" reads as no URL at all.
 * A refused URL is quoted without its user:password, which would otherwise reach the logs and
 * `/debug/policy`.
 */
export function url(v: unknown, path: string, bounds: FieldLimits): string {
  const { pattern, ...rest } = bounds;
  const text = str(v, path, { minLength: 1, ...rest });
  const shown = withoutCredentials(text);
  if (!URL.canParse(text)) fail(path, 'must be an absolute URL', shown);
  if (pattern !== undefined && !new RegExp(pattern, 'u').test(text))
    fail(
      path,
      `must be an absolute URL matching ${pattern}${shown === text ? '' : ', with no user:password in it'}`,
      shown,
    );
  return text;
}

export function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(
      path,
      max === Infinity
        ? `must be an integer of at least ${min}`
        : `must be an integer from ${min} to ${max}`,
      v,
    );
  }
  return v;
}

/** An integer within the schema's minimum and maximum. */
export function bounded(v: unknown, path: string, bounds: FieldLimits): number {
  return int(v, path, bounds.minimum ?? 0, bounds.maximum ?? Number.MAX_SAFE_INTEGER);
}

/** A number within the schema's bounds; `exclusiveMinimum` refuses the minimum itself. */
export function num(v: unknown, path: string, bounds: FieldLimits): number {
  const min = bounds.minimum ?? -Infinity;
  const max = bounds.maximum ?? Infinity;
  const low = bounds.exclusiveMinimum === true ? v === min : false;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || low) {
    const from = bounds.exclusiveMinimum === true ? `greater than ${min}` : `from ${min}`;
    fail(path, `must be a number ${from} to ${max}`, v);
  }
  return v;
}

/** Milliseconds within a Duration field's bounds (its CEL rule), at least `floor`. */
export function durationMs(v: unknown, path: string, bounds: FieldLimits, floor = 0): number {
  const min = bounds.minDuration === undefined ? 1 : parseDuration(bounds.minDuration);
  const max = bounds.maxDuration === undefined ? 86_400_000 : parseDuration(bounds.maxDuration);
  return int(v, path, Math.max(min, floor), max);
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'must be true or false', v);
  return v;
}

export function oneOf(v: unknown, path: string, bounds: FieldLimits): string {
  const allowed = bounds.enum ?? [];
  if (typeof v !== 'string' || !allowed.includes(v)) {
    fail(path, `must be one of ${allowed.join(', ')}`, v);
  }
  return v;
}

export function arr(v: unknown, path: string, bounds: FieldLimits): unknown[] {
  const min = bounds.minItems ?? 0;
  const max = bounds.maxItems ?? Number.MAX_SAFE_INTEGER;
  if (!Array.isArray(v) || v.length > max || v.length < min) {
    const least = min > 0 ? `at least ${min} and ` : '';
    fail(path, `must be a list of ${least}at most ${max} items`, v);
  }
  return v as unknown[];
}

/** Each setting of one section of the document, held to its bounds (generated/documentBounds.ts). */
export function checkSection(
  section: Json,
  at: string,
  bounds: Readonly<Record<string, SettingBounds>>,
): void {
  for (const [name, b] of Object.entries(bounds)) {
    const v = section[name];
    if (v === undefined && b.optional === true) continue;
    const path = at === '' ? name : `${at}.${name}`;
    switch (b.type) {
      case 'integer':
        int(v, path, b.minimum ?? 0, b.maximum ?? Number.MAX_SAFE_INTEGER);
        break;
      case 'number':
        num(v, path, b);
        break;
      case 'boolean':
        bool(v, path);
        break;
      case 'string':
        str(v, path, b);
        break;
      case 'enum':
        oneOf(v, path, { enum: b.values });
        break;
      case 'enumList':
        arr(v, path, b).forEach((item, i) => oneOf(item, `${path}[${i}]`, { enum: b.values }));
        break;
    }
  }
}
