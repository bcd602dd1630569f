/**
 * Each spec field's default and bounds, read from the schemas and written as constants
 * (contract/src/api/specLimits.ts), so that the runtime's defaults and its check of
 * policy documents that never went through admission read the one declaration, the schema's.
 *
 * Bounds the schema states in CEL rather than in keywords are read from the two rule shapes
 * the schemas use for them: a Duration's `duration(self) >= duration('1s') && duration(self)
 * <= duration('24h')`, and a window's `self.type != 'Time' || … self.size <= 3600`. Any other
 * rule that mentions `duration(self)` fails the generation, so a new bound cannot be missed.
 */
import { format, resolveConfig } from 'prettier';
import {
  COMMON_DEFS_FILE,
  inlineReferences,
  walkSchema,
  type JsonSchema,
  type SchemaSet,
} from './schemaSet.ts';

/** What a field's entry may hold; absent keys are absent from the schema too. */
export interface FieldLimits {
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  /** OpenAPI v3's boolean form: `minimum` itself is refused. */
  readonly exclusiveMinimum?: boolean;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly enum?: readonly unknown[];
  /** A Duration's bounds from its CEL rule, as the schema spells them ("1s", "24h"). */
  readonly minDuration?: string;
  readonly maxDuration?: string;
  /** A tighter maximum that applies when a sibling `type` field has this value. */
  readonly maximumWhen?: { readonly type: string; readonly maximum: number };
}

const KEYWORDS = [
  'default',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'enum',
] as const;

const DURATION_MIN = /duration\(self\) >= duration\('([^']+)'\)/;
const DURATION_MAX = /duration\(self\) <= duration\('([^']+)'\)/;
const SIZE_WHEN_TYPE =
  /self\.type != '([A-Za-z]+)' \|\| !has\(self\.size\) \|\| self\.size <= (\d+)/;

function durationBounds(node: JsonSchema, where: string): Partial<FieldLimits> {
  const bounds: { minDuration?: string; maxDuration?: string } = {};
  for (const { rule } of node['x-kubernetes-validations'] ?? []) {
    if (!rule.includes('duration(self)')) continue;
    const min = DURATION_MIN.exec(rule)?.[1];
    const max = DURATION_MAX.exec(rule)?.[1];
    if (min === undefined && max === undefined)
      throw new Error(`${where}: a duration rule whose bounds cannot be read: ${rule}`);
    if (min !== undefined) bounds.minDuration = min;
    if (max !== undefined) bounds.maxDuration = max;
  }
  return bounds;
}

/** Every spec field with a default or a bound, by path below `spec` (`[]` items, `{}` values). */
export function specLimits(set: SchemaSet, kind: string): Map<string, FieldLimits> {
  const found = set.kinds.find((candidate) => candidate.crd.kind === kind);
  if (found === undefined) throw new Error(`no schema for kind ${kind}`);
  const spec = inlineReferences(set, found.schema, found.file).properties?.spec;
  if (spec === undefined) throw new Error(`${found.file}: no spec`);
  const limits = new Map<string, Record<string, unknown>>();
  walkSchema(spec, (node, path) => {
    if (path === '') return;
    const entry: Record<string, unknown> = {};
    for (const keyword of KEYWORDS) if (node[keyword] !== undefined) entry[keyword] = node[keyword];
    Object.assign(entry, durationBounds(node, `${found.file}: spec.${path}`));
    if (Object.keys(entry).length > 0) limits.set(path, { ...entry, ...limits.get(path) });
    for (const { rule } of node['x-kubernetes-validations'] ?? []) {
      const when = SIZE_WHEN_TYPE.exec(rule);
      if (when?.[1] === undefined) continue;
      const sizePath = `${path}.size`;
      limits.set(sizePath, {
        ...limits.get(sizePath),
        maximumWhen: { type: when[1], maximum: Number(when[2]) },
      });
    }
  });
  return limits;
}

const EXPORTS = [
  ['AgentDeployment', 'AGENT_DEPLOYMENT_LIMITS'],
  ['CircuitBreakerPolicy', 'CIRCUIT_BREAKER_POLICY_LIMITS'],
  ['RateLimitPolicy', 'RATE_LIMIT_POLICY_LIMITS'],
] as const;

/** The values of each enumeration the kinds share (common.defs.json), by type name. */
export function commonEnums(set: SchemaSet): Record<string, readonly unknown[]> {
  const defs = set.files.get(COMMON_DEFS_FILE)?.$defs ?? {};
  const enums: Record<string, readonly unknown[]> = {};
  for (const [name, def] of Object.entries(defs)) {
    if (Array.isArray(def.enum)) enums[name] = def.enum as unknown[];
  }
  return enums;
}

/** The limits file's text. */
export async function renderLimits(set: SchemaSet, prettierConfigPath: string): Promise<string> {
  const blocks = EXPORTS.map(([kind, name]) => {
    const entries = Object.fromEntries(specLimits(set, kind));
    return `/** ${kind}'s spec fields. */\nexport const ${name} = ${JSON.stringify(entries)} as const;`;
  });
  blocks.push(
    `/** The values of the enumerations every kind shares (common.defs.json). */\nexport const COMMON_ENUMS = ${JSON.stringify(commonEnums(set))} as const;`,
  );
  const source = [
    '// Generated by scripts/generate.ts from crds/schemas/*.json. Do not edit:',
    '// change the schema and run `make generate`.',
    '',
    '/*',
    ' * Each spec field with a default or a bound, by path below spec (`[]`: a list item, `{}`: a',
    " * map value). minDuration/maxDuration come from the field's CEL rule; maximumWhen is a",
    " * tighter maximum for one value of the sibling `type`. The runtime's defaults and its check",
    ' * of policy documents read these, so each is declared once: in the schema.',
    ' */',
    '',
    ...blocks,
    '',
  ].join('\n');
  const options = { ...(await resolveConfig(prettierConfigPath)), parser: 'typescript' };
  return format(source, options);
}
