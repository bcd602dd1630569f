/**
 * Each kind's schema as admission checks a manifest with it, read from the schemas and written
 * as a constant (contract/src/api/admissionSchema.ts): the structural keywords the API server
 * validates, the defaults it sets first, and the CEL rules (`x-kubernetes-validations`) it
 * runs. A reader that never goes through the API server — the runtime's `--manifests` — checks
 * the very same declarations, instead of a hand-written copy of some of them.
 */
import type { AdmissionNode } from '../../contract/src/api/admissionSchema.types.ts';
import { renderConstant } from './renderConstant.ts';
import { inlineReferences, type JsonSchema, type SchemaSet } from './schemaSet.ts';

/** Keywords copied as they are. */
const COPIED = [
  'format',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'default',
] as const;

/** Keywords read below, or that say nothing about what a manifest may hold. */
const READ = new Set([
  ...COPIED,
  'type',
  'properties',
  'items',
  'additionalProperties',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
  'x-kubernetes-preserve-unknown-fields',
  // int-or-string's two types, which the API server's schema states this way too.
  'anyOf',
  'description',
  'tsType',
  '$ref',
]);

function admissionNode(node: JsonSchema, path: string): AdmissionNode {
  // A keyword this does not read would go unchecked in `--manifests`: stop the build instead.
  for (const keyword of Object.keys(node))
    if (!READ.has(keyword))
      throw new Error(
        `${path}: ${keyword} is not checked outside the API server; teach schemaChecks.ts`,
      );
  const out: Record<string, unknown> = {};
  if (typeof node.type === 'string') out['type'] = node.type;
  if (node['x-kubernetes-int-or-string'] === true) out['intOrString'] = true;
  for (const keyword of COPIED) if (node[keyword] !== undefined) out[keyword] = node[keyword];
  const listType = node['x-kubernetes-list-type'];
  if (listType !== undefined) out['listType'] = listType;
  const mapKeys = node['x-kubernetes-list-map-keys'];
  if (mapKeys !== undefined) out['listMapKeys'] = mapKeys;
  if (node.properties !== undefined) {
    const fields: Record<string, AdmissionNode> = {};
    for (const [name, child] of Object.entries(node.properties))
      fields[name] = admissionNode(child, `${path}.${name}`);
    out['fields'] = fields;
  }
  if (node.items !== undefined) out['items'] = admissionNode(node.items, `${path}[]`);
  if (typeof node.additionalProperties === 'object')
    out['values'] = admissionNode(node.additionalProperties, `${path}{}`);
  const rules = (node['x-kubernetes-validations'] ?? []).map((r) => {
    if (r.messageExpression !== undefined)
      throw new Error(`messageExpression is not supported outside the API server: ${r.rule}`);
    return {
      rule: r.rule,
      ...(r.message === undefined ? {} : { message: r.message }),
      ...(r.fieldPath === undefined ? {} : { fieldPath: r.fieldPath }),
    };
  });
  if (rules.length > 0) out['rules'] = rules;
  return out;
}

/** Each kind's node: metadata and spec (status is written by the operator, never applied). */
export function admissionSchema(set: SchemaSet): Record<string, AdmissionNode> {
  const nodes: Record<string, AdmissionNode> = {};
  for (const kind of set.kinds) {
    const root = inlineReferences(set, kind.schema, kind.file);
    const fields: Record<string, AdmissionNode> = {};
    for (const name of ['metadata', 'spec']) {
      const child = root.properties?.[name];
      if (child !== undefined) fields[name] = admissionNode(child, `${kind.crd.kind}.${name}`);
    }
    const required = (root.required ?? []).filter((name) => name in fields);
    nodes[kind.crd.kind] = { type: 'object', fields, ...(required.length > 0 ? { required } : {}) };
  }
  return nodes;
}

export function renderAdmissionSchema(set: SchemaSet, prettierConfigPath: string) {
  return renderConstant(
    {
      name: 'ADMISSION_SCHEMA',
      type: 'AdmissionNode',
      typeModule: './admissionSchema.types.ts',
      doc: "Each kind's metadata and spec as admission validates them, CEL rules included.",
      value: admissionSchema(set),
    },
    prettierConfigPath,
  );
}
