/**
 * The field-for-field part of resolving a policy: each section of the document read from its
 * spec by the mapping table (documentFields.ts), with the schema's defaults
 * (generated/documentDefaults.ts), converted to the document's units and, for a Cluster-scope
 * limit, divided among the replicas. Pure.
 */
import { isInvalidDurationError, parseDuration } from '../api/duration.ts';
import { isInvalidUsdError, parseUsdMicros } from '../api/usd.ts';
import type { RateLimitShare } from '../api/resources.ts';
import {
  DOCUMENT_FIELDS,
  type DocumentField,
  type DocumentSection,
  type ReplicaShare,
} from './documentFields.ts';
import { DOCUMENT_DEFAULTS } from './generated/documentDefaults.ts';
import type { DocumentSectionTypes } from './generated/documentSettingTypes.ts';

type Root = keyof DocumentSectionTypes;
type Section<R extends Root> = keyof DocumentSectionTypes[R] & string;

function sectionOf(root: Root, section: string): DocumentSection {
  return (
    (DOCUMENT_FIELDS[root].sections as Readonly<Record<string, DocumentSection>>)[section] ?? {}
  );
}

/** The value at a spec path, below the list item `from` is when the path has `[]`. */
function valueAt(from: unknown, path: string): unknown {
  const own = path.split('[].').at(-1) ?? path;
  return own
    .split('.')
    .reduce<unknown>(
      (at, key) =>
        at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined,
      from,
    );
}

/**
 * A spec value that cannot be converted to the document's unit: a manifest that never went
 * through admission (`--manifests`) with, say, `usd: 5` where the schema wants the string "5".
 * Names the field as the user wrote it; the runtime keeps its last good policy.
 */
export class SpecValueError extends Error {
  readonly code = 'SPEC_VALUE_INVALID';
}

const EXAMPLE: Readonly<Record<string, string>> = { duration: '"30s"', usd: '"0.25"' };

/** A spec value in the document's unit; SpecValueError when it is not one. */
export function inUnit(value: unknown, field: DocumentField, root: Root): unknown {
  if (field.unit === undefined) return value;
  const where = `${DOCUMENT_FIELDS[root].kind} spec.${field.spec}`;
  if (field.unit === 'seconds') {
    if (typeof value !== 'number')
      throw new SpecValueError(`${where} must be a number, got ${JSON.stringify(value)}`);
    return value * 1000;
  }
  if (typeof value !== 'string')
    throw new SpecValueError(
      `${where} must be a string, e.g. ${EXAMPLE[field.unit] ?? '""'}, got the ${typeof value} ${JSON.stringify(value)} (kubectl apply would refuse it too): quote it in YAML`,
    );
  try {
    return field.unit === 'duration' ? parseDuration(value) : parseUsdMicros(value);
  } catch (err) {
    if (isInvalidDurationError(err) || isInvalidUsdError(err))
      throw new SpecValueError(`${where}: ${err.message}`);
    throw err;
  }
}

/**
 * One replica's part of `total`. A total below the floor is not a valid policy: it is passed
 * on as it is for the document's check to refuse, not lifted to the floor.
 */
function replicaPart(total: number, share: ReplicaShare, shareOf: number): number {
  if (share.kind === 'whole')
    return total < share.floor ? total : Math.max(share.floor, Math.floor(total / shareOf));
  const part = total < share.floor ? total : Math.max(share.floor, total / shareOf);
  // Three decimals are plenty for a rate and keep the hash stable across float noise.
  return Math.round(part * 1000) / 1000;
}

/**
 * One section of the document from `spec` (the kind's spec, or the list item for `tool` and
 * `mcpServer`): each setting as given, else its default; absent when it has neither.
 */
export function resolveSection<R extends Root, S extends Section<R>>(
  root: R,
  section: S,
  spec: unknown,
  shareOf = 1,
): DocumentSectionTypes[R][S] {
  const defaults =
    (DOCUMENT_DEFAULTS[root] as Readonly<Record<string, Readonly<Record<string, unknown>>>>)[
      section
    ] ?? {};
  const resolved: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(sectionOf(root, section))) {
    const given = valueAt(spec, field.spec);
    const value = given === undefined ? defaults[name] : inUnit(given, field, root);
    if (value === undefined) continue;
    resolved[name] =
      field.share === undefined ? value : replicaPart(value as number, field.share, shareOf);
  }
  return resolved as DocumentSectionTypes[R][S];
}

/** The replica's share of a rate limit as RateLimitPolicy `status.effective` reports it. */
export function replicaShareStatus(
  rateLimit: Readonly<Record<string, unknown>>,
  shareOf: number,
): RateLimitShare {
  const status: Record<string, number> = { replicas: shareOf };
  for (const [section, fields] of Object.entries(DOCUMENT_FIELDS.rateLimit.sections)) {
    const values = rateLimit[section] as Readonly<Record<string, unknown>> | undefined;
    for (const [name, field] of Object.entries(fields as DocumentSection)) {
      const value = values?.[name];
      if (field.share !== undefined && typeof value === 'number')
        status[field.share.status] = value;
    }
  }
  return status;
}
