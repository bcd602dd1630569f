/**
 * The shape of every field each kind accepts, read from the schemas and written as a constant
 * (contract/src/api/fieldShapes.ts), so that a reader that never goes through the API server —
 * the runtime's `--manifests` — refuses an unknown field as `kubectl apply` does with strict
 * field validation, instead of dropping a typo without a word.
 */
import type { FieldShape } from '../../contract/src/api/unknownFields.ts';
import { renderConstant } from './renderConstant.ts';
import { inlineReferences, type JsonSchema, type SchemaSet } from './schemaSet.ts';

function shapeOf(node: JsonSchema): FieldShape {
  if (node['x-kubernetes-preserve-unknown-fields'] === true) return 0;
  if (node.anyOf !== undefined) return 0;
  if (node.type === 'array') return node.items === undefined ? 0 : { items: shapeOf(node.items) };
  if (node.type === 'object' || node.properties !== undefined) {
    const extra = node.additionalProperties;
    if (extra !== undefined && extra !== false && node.properties === undefined) {
      return { values: extra === true ? 0 : shapeOf(extra) };
    }
    if (node.properties === undefined) return 0;
    const fields: Record<string, FieldShape> = {};
    for (const [name, child] of Object.entries(node.properties)) fields[name] = shapeOf(child);
    return { fields };
  }
  return 0;
}

export function fieldShapes(set: SchemaSet): Record<string, FieldShape> {
  const shapes: Record<string, FieldShape> = {};
  for (const kind of set.kinds) {
    const shape = shapeOf(inlineReferences(set, kind.schema, kind.file));
    if (shape === 0 || !('fields' in shape)) throw new Error(`${kind.file}: not an object schema`);
    shapes[kind.crd.kind] = shape;
  }
  return shapes;
}

export function renderFieldShapes(set: SchemaSet, prettierConfigPath: string) {
  return renderConstant(
    {
      name: 'FIELD_SHAPES',
      type: 'FieldShape',
      typeModule: './unknownFields.ts',
      doc: 'Every field each kind accepts (metadata is ObjectMeta, checked apart).',
      value: fieldShapes(set),
    },
    prettierConfigPath,
  );
}
