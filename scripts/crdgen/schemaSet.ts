/**
 * The API's source of truth, loaded: crds/schemas/<kind>.schema.json (one per kind, spec and
 * status) plus crds/schemas/common.defs.json (types every kind shares). Schemas refer to named
 * types with `$ref` — `#/$defs/Name` within a file, `common.defs.json#/$defs/Name` across — and
 * may add sibling keys at the reference (a description, a default, extra CEL rules).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CelRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly fieldPath?: string;
  readonly reason?: string;
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  /** Above 0: shown only by `kubectl get -o wide`, for columns too long for every listing. */
  readonly priority?: number;
}

/** CRD-level facts that are not part of the object's schema: names, columns, scale paths. */
export interface CrdMetadata {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly printerColumns: readonly PrinterColumn[];
  readonly scale?: {
    readonly specReplicasPath: string;
    readonly statusReplicasPath: string;
    readonly labelSelectorPath: string;
  };
}

/** A JSON Schema node, in the structural subset Kubernetes accepts, plus our two extensions. */
export interface JsonSchema {
  readonly $ref?: string;
  readonly type?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly anyOf?: readonly JsonSchema[];
  readonly required?: readonly string[];
  readonly $defs?: Readonly<Record<string, JsonSchema>>;
  /** The TypeScript type to emit instead of deriving one (json-schema-to-typescript's keyword). */
  readonly tsType?: string;
  readonly 'x-kubernetes-validations'?: readonly CelRule[];
  readonly 'x-breakwater-crd'?: CrdMetadata;
  readonly [keyword: string]: unknown;
}

export interface KindSchema {
  /** File name inside the schema directory, e.g. agentdeployment.schema.json. */
  readonly file: string;
  readonly crd: CrdMetadata;
  readonly schema: JsonSchema;
}

export interface SchemaSet {
  readonly kinds: readonly KindSchema[];
  /** Every file by name, for resolving references. */
  readonly files: ReadonlyMap<string, JsonSchema>;
}

export const COMMON_DEFS_FILE = 'common.defs.json';
const KIND_FILE_SUFFIX = '.schema.json';

export function loadSchemaSet(dir: string): SchemaSet {
  const names = readdirSync(dir)
    .filter((name) => name.endsWith(KIND_FILE_SUFFIX) || name === COMMON_DEFS_FILE)
    .sort();
  const files = new Map<string, JsonSchema>();
  for (const name of names) {
    files.set(name, JSON.parse(readFileSync(join(dir, name), 'utf8')) as JsonSchema);
  }
  const kinds: KindSchema[] = [];
  for (const [file, schema] of files) {
    if (file === COMMON_DEFS_FILE) continue;
    const crd = schema['x-breakwater-crd'];
    if (crd === undefined) throw new Error(`${file}: missing the x-breakwater-crd block`);
    if (`${crd.kind.toLowerCase()}${KIND_FILE_SUFFIX}` !== file) {
      throw new Error(
        `${file}: kind ${crd.kind} belongs in ${crd.kind.toLowerCase()}${KIND_FILE_SUFFIX}`,
      );
    }
    kinds.push({ file, crd, schema });
  }
  return { kinds, files };
}

/** A named type a `$ref` points at. */
export interface DefinitionRef {
  readonly file: string;
  readonly name: string;
}

const REF_PATTERN = /^([a-z.]+\.json)?#\/\$defs\/([A-Za-z][A-Za-z0-9]*)$/;

export function parseRef(ref: string, fromFile: string): DefinitionRef {
  const match = REF_PATTERN.exec(ref);
  if (match?.[2] === undefined) {
    throw new Error(
      `${fromFile}: unsupported $ref ${ref} (use #/$defs/Name or ${COMMON_DEFS_FILE}#/$defs/Name)`,
    );
  }
  return { file: match[1] ?? fromFile, name: match[2] };
}

export function lookupDefinition(set: SchemaSet, ref: DefinitionRef): JsonSchema {
  const definition = set.files.get(ref.file)?.$defs?.[ref.name];
  if (definition === undefined) throw new Error(`unresolved $ref ${ref.file}#/$defs/${ref.name}`);
  return definition;
}

/**
 * The schema a reference site stands for: the definition, with the site's own keys on top.
 * CEL rules add up rather than replace, so a site can tighten a shared type (a Duration's bounds);
 * properties add up too, so a site can extend a shared object with fields of its own (a
 * RateLimitPolicy's budget status is the shared one plus the agent it shows), never redefine one.
 */
export function mergeReference(definition: JsonSchema, site: JsonSchema): JsonSchema {
  const { $ref: ref, ...overrides } = site;
  const rules = [
    ...(definition['x-kubernetes-validations'] ?? []),
    ...(overrides['x-kubernetes-validations'] ?? []),
  ];
  const added = overrides.properties ?? {};
  for (const name of Object.keys(added)) {
    if (definition.properties?.[name] !== undefined)
      throw new Error(`${ref ?? 'a reference'} adds property ${name}, which it already has`);
  }
  const properties = { ...definition.properties, ...added };
  const required = [...(definition.required ?? []), ...(overrides.required ?? [])];
  return {
    ...definition,
    ...overrides,
    ...(rules.length > 0 ? { 'x-kubernetes-validations': rules } : {}),
    ...(Object.keys(properties).length > 0 ? { properties } : {}),
    ...(required.length > 0 ? { required: [...new Set(required)] } : {}),
  };
}

/** Applies `fn` to each direct subschema (properties, items, additionalProperties, anyOf). */
export function mapSubschemas(node: JsonSchema, fn: (child: JsonSchema) => JsonSchema): JsonSchema {
  const { properties, items, additionalProperties, anyOf } = node;
  return {
    ...node,
    ...(properties === undefined
      ? {}
      : {
          properties: Object.fromEntries(
            Object.entries(properties).map(([key, child]) => [key, fn(child)]),
          ),
        }),
    ...(items === undefined ? {} : { items: fn(items) }),
    ...(additionalProperties === undefined || typeof additionalProperties === 'boolean'
      ? {}
      : { additionalProperties: fn(additionalProperties) }),
    ...(anyOf === undefined ? {} : { anyOf: anyOf.map(fn) }),
  };
}

/** Replaces every `$ref` by the schema it stands for, recursively: what a CRD needs. */
export function inlineReferences(set: SchemaSet, node: JsonSchema, file: string): JsonSchema {
  if (node.$ref !== undefined) {
    const ref = parseRef(node.$ref, file);
    const definition = inlineReferences(set, lookupDefinition(set, ref), ref.file);
    // The site's own keys (added properties) resolve in the site's file, the definition's in its.
    const { $ref, ...site } = node;
    return mergeReference(definition, { $ref, ...inlineReferences(set, site, file) });
  }
  return mapSubschemas(node, (child) => inlineReferences(set, child, file));
}

/** Visits every schema node with its path (e.g. `spec.model.name`, `spec.tools[]`), references inlined. */
export function walkSchema(
  node: JsonSchema,
  visit: (node: JsonSchema, path: string) => void,
  path = '',
): void {
  visit(node, path);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    walkSchema(child, visit, path === '' ? key : `${path}.${key}`);
  }
  if (node.items !== undefined) walkSchema(node.items, visit, `${path}[]`);
  if (typeof node.additionalProperties === 'object') {
    walkSchema(node.additionalProperties, visit, `${path}{}`);
  }
  for (const [index, alternative] of (node.anyOf ?? []).entries()) {
    walkSchema(alternative, visit, `${path}|${index}`);
  }
}
