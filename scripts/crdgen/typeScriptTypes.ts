/**
 * The schemas → TypeScript types, one file per schema file, via json-schema-to-typescript.
 *
 * Every `$defs` entry, and each kind's spec and status, becomes one named type; references
 * between them become type names (imported across files), so nothing is declared twice.
 * No index signatures (additionalProperties false; maps carry an explicit `tsType`) and no
 * tuples (minItems/maxItems ignored).
 */
import { compile } from 'json-schema-to-typescript';
import { format, resolveConfig } from 'prettier';
import { COMMON_DEFS_FILE, lookupDefinition, mapSubschemas, parseRef } from './schemaSet.ts';
import type { JsonSchema, SchemaSet } from './schemaSet.ts';

/** Our schemas are JSON Schema with Kubernetes extensions, which the compiler ignores. */
type CompilerInput = Parameters<typeof compile>[0];

interface NamedType {
  readonly name: string;
  readonly file: string;
  readonly schema: JsonSchema;
}

/** Types that come from @kubernetes/client-node, named in `tsType`. */
const KUBERNETES_TYPE = /^V1[A-Z][A-Za-z0-9]*$/;

export function typeScriptFileName(schemaFile: string): string {
  return schemaFile === COMMON_DEFS_FILE
    ? 'common.ts'
    : schemaFile.replace(/\.schema\.json$/, '.ts');
}

/** Each kind's spec and status plus every definition, in source order. */
function namedTypes(set: SchemaSet): NamedType[] {
  const types: NamedType[] = [];
  for (const [file, root] of set.files) {
    const kind = root['x-breakwater-crd']?.kind;
    if (kind !== undefined) {
      for (const part of ['spec', 'status'] as const) {
        const schema = root.properties?.[part];
        if (schema === undefined) throw new Error(`${file}: ${kind} has no ${part}`);
        types.push({ name: `${kind}${part === 'spec' ? 'Spec' : 'Status'}`, file, schema });
      }
    }
    for (const [name, schema] of Object.entries(root.$defs ?? {})) {
      types.push({ name, file, schema });
    }
  }
  const seen = new Set<string>();
  for (const { name, file } of types) {
    if (seen.has(name)) throw new Error(`${file}: type name ${name} is already defined elsewhere`);
    seen.add(name);
  }
  return types;
}

/** Replaces references by the referenced type's name and records every name used. */
function referencesToNames(
  set: SchemaSet,
  node: JsonSchema,
  file: string,
  used: Set<string>,
): JsonSchema {
  if (node.$ref !== undefined) {
    const ref = parseRef(node.$ref, file);
    used.add(ref.name);
    const description = node.description ?? lookupDefinition(set, ref).description;
    const described = description === undefined ? {} : { description };
    if (node.properties === undefined) return { tsType: ref.name, ...described };
    // A site that adds properties: the shared type and an object of its own fields.
    const own: JsonSchema = {
      type: 'object',
      properties: node.properties,
      ...(node.required === undefined ? {} : { required: node.required }),
    };
    return {
      ...described,
      allOf: [{ tsType: ref.name }, referencesToNames(set, own, file, used)],
    };
  }
  for (const identifier of node.tsType?.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
    used.add(identifier);
  }
  return mapSubschemas(node, (child) => referencesToNames(set, child, file, used));
}

const COMPILE_OPTIONS = {
  bannerComment: '',
  format: false,
  additionalProperties: false,
  ignoreMinAndMaxItems: true,
  declareExternallyReferenced: false,
  strictIndexSignatures: true,
  unknownAny: true,
} as const;

/** Renders one TypeScript file per schema file, keyed by file name (e.g. `agentdeployment.ts`). */
export async function renderTypeScript(
  set: SchemaSet,
  prettierConfigPath: string,
): Promise<Map<string, string>> {
  const types = namedTypes(set);
  const fileOf = new Map(types.map((type) => [type.name, typeScriptFileName(type.file)]));
  const prettierOptions = { ...(await resolveConfig(prettierConfigPath)), parser: 'typescript' };
  const outputs = new Map<string, string>();

  for (const schemaFile of set.files.keys()) {
    const outputFile = typeScriptFileName(schemaFile);
    const used = new Set<string>();
    const declarations: string[] = [];
    for (const type of types.filter((candidate) => candidate.file === schemaFile)) {
      const schema = referencesToNames(set, type.schema, schemaFile, used);
      declarations.push(await compile(schema as CompilerInput, type.name, COMPILE_OPTIONS));
    }
    const imports = new Map<string, string[]>();
    for (const name of [...used].sort()) {
      const from = KUBERNETES_TYPE.test(name) ? '@kubernetes/client-node' : fileOf.get(name);
      if (from === undefined || from === outputFile) continue;
      const module = from === '@kubernetes/client-node' ? from : `./${from}`;
      imports.set(module, [...(imports.get(module) ?? []), name]);
    }
    const importLines = [...imports.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([module, names]) => `import type { ${names.join(', ')} } from '${module}';`);
    const source = [
      `// Generated by scripts/generate.ts from crds/schemas/${schemaFile}. Do not edit:`,
      '// change the schema and run `make generate`.',
      '',
      ...importLines,
      '',
      ...declarations,
    ].join('\n');
    outputs.set(outputFile, await format(source, prettierOptions));
  }

  const index = [
    '// Generated by scripts/generate.ts. Do not edit: change the schemas and run `make generate`.',
    '',
    ...[...outputs.keys()].sort().map((file) => `export type * from './${file}';`),
  ].join('\n');
  outputs.set('index.ts', await format(index, prettierOptions));
  return outputs;
}
