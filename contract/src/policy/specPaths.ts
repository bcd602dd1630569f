/**
 * A policy document's field named as a manifest spells it: `rateLimit.spend.budgets[0].
 * limitMicroUsd` is RateLimitPolicy `spec.budgets[0].usd`. The mapping table
 * (documentFields.ts) says which spec field each document field comes from; this says where
 * each of its sections sits in the document. A `--manifests` run, which has no admission to
 * name the field, tells its errors in the words of the manifest.
 */
import { DOCUMENT_FIELDS, type DocumentSection, type SpecKind } from './documentFields.ts';

type Roots = typeof DOCUMENT_FIELDS;

/** Where each section of the mapping table sits in the document (`[]`: a list's items). */
const SECTION_AT: {
  readonly [R in keyof Roots]: Readonly<Record<keyof Roots[R]['sections'], string>>;
} = {
  agent: {
    '': '',
    model: 'model',
    retry: 'retry',
    cache: 'cache',
    security: 'security',
    audit: 'audit',
    durability: 'durability',
  },
  tool: { '': 'tools[]' },
  mcpServer: { '': 'mcpServers[]' },
  breaker: {
    '': 'circuitBreaker',
    failureRate: 'circuitBreaker.failureRate',
    countWindow: 'circuitBreaker.failureRate.window',
    timeWindow: 'circuitBreaker.failureRate.window',
    slowCall: 'circuitBreaker.slowCall',
    loopDetection: 'circuitBreaker.loopDetection',
  },
  rateLimit: {
    '': 'rateLimit',
    requests: 'rateLimit.requests',
    tokens: 'rateLimit.tokens',
    concurrency: 'rateLimit.concurrency',
    adaptive: 'rateLimit.adaptive',
    store: 'rateLimit.store',
    spend: 'rateLimit.spend',
  },
  budget: { '': 'rateLimit.spend.budgets[]' },
  price: { '': 'pricing[]' },
};

interface Place {
  readonly pattern: RegExp;
  readonly kind: SpecKind;
  readonly spec: string;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every document field the table maps, as a pattern of its document path. */
const PLACES: readonly Place[] = Object.entries(DOCUMENT_FIELDS).flatMap(([root, entry]) =>
  Object.entries(entry.sections as Readonly<Record<string, DocumentSection>>).flatMap(
    ([section, fields]) => {
      const at = (SECTION_AT as Readonly<Record<string, Readonly<Record<string, string>>>>)[root]?.[
        section
      ];
      if (at === undefined) return [];
      return Object.entries(fields).map(([name, field]) => ({
        pattern: new RegExp(
          `^${escape(at === '' ? name : `${at}.${name}`).replaceAll('\\[\\]', '\\[(\\d+)\\]')}$`,
        ),
        kind: entry.kind,
        spec: field.spec,
      }));
    },
  ),
);

/** The manifest's kind and `spec.` path of a document path; undefined for a path not mapped. */
export function specPathOf(documentPath: string): { kind: SpecKind; path: string } | undefined {
  for (const place of PLACES) {
    const match = place.pattern.exec(documentPath);
    if (match === null) continue;
    const indexes = match.slice(1);
    const path = place.spec.replace(/\[\]/g, () => `[${indexes.shift() ?? ''}]`);
    return { kind: place.kind, path: `spec.${path}` };
  }
  return undefined;
}

/**
 * A document check's error (`<document path> must be …`) in the manifest's words, the document
 * path kept for its units: `RateLimitPolicy spec.budgets[0].usd (rateLimit.spend.budgets[0].
 * limitMicroUsd in the policy document) must be …`. Other errors come back as they are.
 */
export function inManifestTerms(error: string): string {
  const space = error.indexOf(' ');
  if (space < 0) return error;
  const documentPath = error.slice(0, space);
  const place = specPathOf(documentPath);
  if (place === undefined) return error;
  return `${place.kind} ${place.path} (${documentPath} in the policy document)${error.slice(space)}`;
}
