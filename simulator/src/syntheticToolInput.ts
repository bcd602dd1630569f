/**
 * A tool input that satisfies the required fields of a tool's JSON Schema with simple,
 * predictable values: `const`, else the first `enum` value, else `default`, else by type —
 * strings `"example <field>"`, numbers their `minimum` or 1, booleans true, arrays
 * `minItems` copies of their item, objects their own required fields. Optional fields are
 * left out; `$ref` and other constructs the simulator does not follow become strings.
 */

type Schema = Readonly<Record<string, unknown>>;

const MAX_DEPTH = 8;

export function syntheticToolInput(inputSchema: Schema): Record<string, unknown> {
  return objectValue(inputSchema, 0);
}

function objectValue(schema: Schema, depth: number): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const properties = asSchema(schema['properties']) ?? {};
  const required = schema['required'];
  if (!Array.isArray(required)) return result;
  for (const name of required) {
    if (typeof name !== 'string') continue;
    result[name] = valueFor(asSchema(properties[name]) ?? {}, name, depth + 1);
  }
  return result;
}

function valueFor(schema: Schema, name: string, depth: number): unknown {
  if ('const' in schema) return schema['const'];
  const choices = schema['enum'];
  if (Array.isArray(choices) && choices.length > 0) return choices[0] as unknown;
  if ('default' in schema) return schema['default'];
  const alternatives = schema['anyOf'] ?? schema['oneOf'];
  if (Array.isArray(alternatives)) {
    const first = asSchema(alternatives[0]);
    if (first !== undefined) return valueFor(first, name, depth);
  }
  if (depth > MAX_DEPTH) return null;
  switch (firstType(schema['type'])) {
    case 'integer':
    case 'number': {
      const minimum = schema['minimum'];
      return typeof minimum === 'number' ? minimum : 1;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const minItems = schema['minItems'];
      const count = typeof minItems === 'number' ? Math.min(minItems, 16) : 0;
      const item = asSchema(schema['items']) ?? {};
      return Array.from({ length: count }, () => valueFor(item, name, depth + 1));
    }
    case 'object':
      return objectValue(schema, depth);
    default:
      return `example ${name}`;
  }
}

/** `type` may be a single name or a list such as `["string", "null"]`: take the first non-null. */
function firstType(type: unknown): string | undefined {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    const named = type.filter((t): t is string => typeof t === 'string');
    return named.find((t) => t !== 'null') ?? named[0];
  }
  return undefined;
}

function asSchema(value: unknown): Schema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Schema)
    : undefined;
}
