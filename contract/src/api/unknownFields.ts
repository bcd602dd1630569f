/**
 * Unknown fields, found as `kubectl apply` finds them with strict field validation: against the
 * shape of each kind's schema (fieldShapes.ts, generated), with `metadata` checked as the API
 * server checks ObjectMeta. Used where manifests never reach the API server (`--manifests`).
 */

/** 0: anything (a scalar, or a field that keeps unknown fields); else an object, list or map. */
export type FieldShape =
  | 0
  | { readonly fields: Readonly<Record<string, FieldShape>> }
  | { readonly items: FieldShape }
  | { readonly values: FieldShape };

/** ObjectMeta's fields, as the API server accepts them in a manifest. */
const OBJECT_META: FieldShape = {
  fields: {
    name: 0,
    generateName: 0,
    namespace: 0,
    uid: 0,
    resourceVersion: 0,
    generation: 0,
    creationTimestamp: 0,
    deletionTimestamp: 0,
    deletionGracePeriodSeconds: 0,
    labels: { values: 0 },
    annotations: { values: 0 },
    ownerReferences: 0,
    finalizers: 0,
    managedFields: 0,
    selfLink: 0,
  },
};

export interface UnknownField {
  /** `spec.failureTreshold`, `spec.backends[1].wieght`. */
  readonly path: string;
  /** A known sibling one or two edits away, when there is one. */
  readonly suggestion?: string;
}

/** Every field of `object` its kind's shape does not have. */
export function unknownFields(object: unknown, shape: FieldShape): UnknownField[] {
  const found: UnknownField[] = [];
  const withMeta: FieldShape =
    shape !== 0 && 'fields' in shape
      ? { fields: { ...shape.fields, apiVersion: 0, kind: 0, metadata: OBJECT_META } }
      : shape;
  walk(object, withMeta, '', found);
  return found;
}

function walk(value: unknown, shape: FieldShape, path: string, found: UnknownField[]): void {
  if (shape === 0 || value === null || typeof value !== 'object') return;
  if ('items' in shape) {
    if (Array.isArray(value))
      value.forEach((v, i) => {
        walk(v, shape.items, `${path}[${i}]`, found);
      });
    return;
  }
  if (Array.isArray(value)) return;
  const entries = Object.entries(value as Record<string, unknown>);
  if ('values' in shape) {
    for (const [key, v] of entries) walk(v, shape.values, `${path}[${JSON.stringify(key)}]`, found);
    return;
  }
  for (const [key, v] of entries) {
    const at = path === '' ? key : `${path}.${key}`;
    const child = shape.fields[key];
    if (child === undefined) {
      const suggestion = closest(key, Object.keys(shape.fields));
      found.push(suggestion === undefined ? { path: at } : { path: at, suggestion });
    } else {
      walk(v, child, at, found);
    }
  }
}

function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const up = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (up[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (up[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** One line for a manifest's unknown fields, naming each and the closest known one. */
export function describeUnknownFields(
  kind: string,
  name: string | undefined,
  file: string,
  fields: readonly UnknownField[],
): string {
  const each = fields
    .map((f) => (f.suggestion === undefined ? f.path : `${f.path} (did you mean ${f.suggestion}?)`))
    .join(', ');
  return (
    `${kind} "${name ?? '?'}" in ${file}: unknown field${fields.length === 1 ? '' : 's'} ${each}; ` +
    'kubectl apply refuses it too (strict field validation): fix the spelling, or upgrade ' +
    'Breakwater if the field is from a newer release'
  );
}
