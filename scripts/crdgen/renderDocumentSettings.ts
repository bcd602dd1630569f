/**
 * The resolved policy document's settings, from the mapping table
 * (contract/src/policy/documentFields.ts) and the schemas: each setting's TypeScript type,
 * its default and its bounds, in the document's units (milliseconds for durations and Time
 * windows). Written to contract/src/policy/generated/, so that the document's type, the
 * resolver's defaults and the document's check all read the schema's one declaration.
 */
import { format, resolveConfig } from 'prettier';
import { parseDuration } from '../../contract/src/api/duration.ts';
import {
  parseUsdMicros,
  USD_MAX_MICROS,
  USD_PATTERN,
  USD_POSITIVE_RULE,
} from '../../contract/src/api/usd.ts';
import {
  DOCUMENT_FIELDS,
  type DocumentField,
  type DocumentRoot,
} from '../../contract/src/policy/documentFields.ts';
import type { SettingBounds } from '../../contract/src/policy/settingBounds.ts';
import { inlineReferences, type JsonSchema, type SchemaSet } from './schemaSet.ts';
import { specLimits } from './renderSpecLimits.ts';

/** A Duration field without a CEL bound: at least a millisecond, at most a day. */
const DURATION_FLOOR_MS = 1;
const DURATION_CEILING_MS = 86_400_000;

interface Located {
  readonly node: JsonSchema;
  readonly required: boolean;
}

/** The schema node at a spec path (`a.b`, `items[].c`), and whether its parent requires it. */
function locate(spec: JsonSchema, path: string, where: string): Located {
  let node = spec;
  let required = true;
  for (const part of path.split('.')) {
    const list = part.endsWith('[]');
    const name = list ? part.slice(0, -2) : part;
    const child = node.properties?.[name];
    if (child === undefined) throw new Error(`${where}: no spec field ${path}`);
    required = node.required?.includes(name) ?? false;
    node = list ? (child.items ?? {}) : child;
    if (list) required = true;
  }
  return { node, required };
}

const pascal = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

/** `breaker` + `failureRate` → BreakerFailureRateFields. */
export function sectionTypeName(root: string, section: string): string {
  return `${pascal(root)}${section.split('.').map(pascal).join('')}Fields`;
}

function literalUnion(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(' | ');
}

function typeOf(node: JsonSchema, field: DocumentField): string {
  if (field.unit !== undefined) return 'number';
  if (Array.isArray(node.enum)) return literalUnion(node.enum);
  if (node.type === 'integer' || node.type === 'number') return 'number';
  if (node.type === 'boolean') return 'boolean';
  if (node.type === 'array' && Array.isArray(node.items?.enum))
    return `readonly (${literalUnion(node.items.enum)})[]`;
  if (node.type === 'string') return 'string';
  throw new Error(`${field.spec}: no document type for schema type ${String(node.type)}`);
}

function inUnit(value: unknown, field: DocumentField): unknown {
  if (field.unit === 'duration') return parseDuration(value as string);
  if (field.unit === 'seconds') return (value as number) * 1000;
  if (field.unit === 'usd') return parseUsdMicros(value as string);
  return value;
}

/** A dollar field in micro-dollars: 0 up, or 1 up when its CEL rule holds it above zero. */
function usdBounds(node: JsonSchema, field: DocumentField): SettingBounds {
  if (node.pattern !== USD_PATTERN)
    throw new Error(`${field.spec}: a dollar field must use common.defs.json's UsdAmount`);
  const positive = (node['x-kubernetes-validations'] ?? []).some(
    (v) => v.rule === USD_POSITIVE_RULE,
  );
  return { type: 'integer', minimum: positive ? 1 : 0, maximum: USD_MAX_MICROS };
}

interface Setting {
  readonly name: string;
  readonly type: string;
  readonly optional: boolean;
  readonly default: unknown;
  readonly bounds: SettingBounds;
}

function boundsOf(
  node: JsonSchema,
  field: DocumentField,
  limits: ReturnType<typeof specLimits>,
  optional: boolean,
): SettingBounds {
  const l = limits.get(field.spec) ?? {};
  const opt = optional ? { optional: true as const } : {};
  if (field.unit === 'duration')
    return {
      type: 'integer',
      minimum: l.minDuration === undefined ? DURATION_FLOOR_MS : parseDuration(l.minDuration),
      maximum: l.maxDuration === undefined ? DURATION_CEILING_MS : parseDuration(l.maxDuration),
      ...opt,
    };
  if (field.unit === 'usd') return { ...usdBounds(node, field), ...opt };
  if (Array.isArray(node.enum)) return { type: 'enum', values: node.enum as string[], ...opt };
  if (node.type === 'boolean') return { type: 'boolean', ...opt };
  if (node.type === 'string')
    return {
      type: 'string',
      ...(l.minLength === undefined ? {} : { minLength: l.minLength }),
      ...(l.maxLength === undefined ? {} : { maxLength: l.maxLength }),
      ...(typeof node.pattern === 'string' ? { pattern: node.pattern } : {}),
      ...opt,
    };
  if (node.type === 'array') {
    const items = node.items?.enum;
    if (!Array.isArray(items)) throw new Error(`${field.spec}: only lists of an enum are settings`);
    return {
      type: 'enumList',
      values: items as string[],
      ...(l.minItems === undefined ? {} : { minItems: l.minItems }),
      ...(l.maxItems === undefined ? {} : { maxItems: l.maxItems }),
      ...opt,
    };
  }
  const maximum = field.whenType === undefined ? l.maximum : l.maximumWhen?.maximum;
  const scale = field.unit === 'seconds' ? 1000 : 1;
  const range = {
    ...(l.minimum === undefined ? {} : { minimum: l.minimum * scale }),
    ...(maximum === undefined ? {} : { maximum: maximum * scale }),
  };
  if (node.type === 'number')
    return {
      type: 'number',
      ...range,
      ...(l.exclusiveMinimum === true ? { exclusiveMinimum: true as const } : {}),
      ...opt,
    };
  if (node.type === 'integer') return { type: 'integer', ...range, ...opt };
  throw new Error(`${field.spec}: no bounds for schema type ${String(node.type)}`);
}

function settingsOf(set: SchemaSet, root: DocumentRoot, fields: Record<string, DocumentField>) {
  const kind = set.kinds.find((k) => k.crd.kind === root.kind);
  if (kind === undefined) throw new Error(`no schema for kind ${root.kind}`);
  const spec = inlineReferences(set, kind.schema, kind.file).properties?.spec ?? {};
  const limits = specLimits(set, root.kind);
  return Object.entries(fields).map(([name, field]): Setting => {
    const { node, required } = locate(spec, field.spec, kind.file);
    const fallback = node.default;
    const optional = fallback === undefined && !required;
    return {
      name,
      type: typeOf(node, field),
      optional,
      default: fallback === undefined ? undefined : inUnit(fallback, field),
      bounds: boundsOf(node, field, limits, optional),
    };
  });
}

interface Rendered {
  readonly types: string;
  readonly defaults: string;
  readonly bounds: string;
}

function renderAll(set: SchemaSet): Rendered {
  const types: string[] = [];
  const map: string[] = [];
  const defaults: Record<string, Record<string, Record<string, unknown>>> = {};
  const bounds: Record<string, Record<string, Record<string, SettingBounds>>> = {};
  for (const [rootName, root] of Object.entries(DOCUMENT_FIELDS) as [string, DocumentRoot][]) {
    const sectionTypes: string[] = [];
    defaults[rootName] = {};
    bounds[rootName] = {};
    for (const [section, fields] of Object.entries(root.sections)) {
      const settings = settingsOf(set, root, fields);
      const name = sectionTypeName(rootName, section);
      const where = `${root.kind} spec ${Object.values(fields)
        .map((f) => f.spec)
        .join(', ')}`;
      types.push(
        `/** From ${where}. */\nexport interface ${name} {\n` +
          settings
            .map((s) => `  readonly ${s.name}${s.optional ? '?' : ''}: ${s.type};`)
            .join('\n') +
          '\n}',
      );
      sectionTypes.push(`  readonly ${JSON.stringify(section)}: ${name};`);
      const sectionDefaults: Record<string, unknown> = {};
      for (const s of settings) if (s.default !== undefined) sectionDefaults[s.name] = s.default;
      defaults[rootName][section] = sectionDefaults;
      bounds[rootName][section] = Object.fromEntries(settings.map((s) => [s.name, s.bounds]));
    }
    map.push(`  readonly ${rootName}: {\n${sectionTypes.join('\n')}\n  };`);
  }
  const header = [
    '// Generated by scripts/generate.ts from contract/src/policy/documentFields.ts and',
    '// crds/schemas/*.json. Do not edit: change the table or the schema and run `make generate`.',
  ].join('\n');
  return {
    types:
      `${header}\n\n/* The resolved policy document's settings, section by section, in its units. */\n\n` +
      `${types.join('\n\n')}\n\n` +
      `/** Each section's type, by root and section path (as documentFields.ts names them). */\n` +
      `export interface DocumentSectionTypes {\n${map.join('\n')}\n}\n`,
    defaults:
      `${header}\n\n` +
      "/** Each setting's default in the document's units (absent: the setting has none). */\n" +
      `export const DOCUMENT_DEFAULTS = ${JSON.stringify(defaults)} as const;\n`,
    bounds:
      `${header}\nimport type { SettingBounds } from '../settingBounds.ts';\n\n` +
      "/** Each setting's bounds in the document's units, as the document's check applies them. */\n" +
      `export const DOCUMENT_BOUNDS = ${JSON.stringify(bounds)} as const satisfies Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, SettingBounds>>>>>>;\n`,
  };
}

/** The three generated files' texts, by file name inside contract/src/policy/generated/. */
export async function renderDocumentSettings(
  set: SchemaSet,
  prettierConfigPath: string,
): Promise<Map<string, string>> {
  const rendered = renderAll(set);
  const options = { ...(await resolveConfig(prettierConfigPath)), parser: 'typescript' };
  return new Map([
    ['documentSettingTypes.ts', await format(rendered.types, options)],
    ['documentDefaults.ts', await format(rendered.defaults, options)],
    ['documentBounds.ts', await format(rendered.bounds, options)],
  ]);
}
