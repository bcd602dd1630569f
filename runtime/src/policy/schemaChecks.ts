/**
 * The schema's structural keywords, checked where no API server checks them: on the objects of
 * `--manifests`. The keywords are the CRDs' own (contract/src/api/admissionSchema.ts, generated
 * from crds/schemas/), and each failure is told as the API server tells it, at the field:
 * `spec.failOn[2]: Duplicate value: "Timeout"`. Unknown fields are unknownFields.ts's; the CEL
 * rules are celAdmission.ts's.
 *
 * Written here rather than with a JSON Schema validator: the API server's own parts of the
 * schema (list types, int-or-string, defaults before `required`, null as absent) are a third of
 * the keywords, and its messages name the field the way the rest of the project does (see
 * docs/design.md §3).
 */
import type { AdmissionNode } from '../../../contract/src/api/admissionSchema.types.ts';
import { withoutCredentials } from '../../../contract/src/policy/documentChecks.ts';
import type { RuleViolation } from './celAdmission.ts';

const patterns = new Map<string, RegExp>();

function regExp(pattern: string): RegExp {
  let compiled = patterns.get(pattern);
  if (compiled === undefined) {
    compiled = new RegExp(pattern, 'u');
    patterns.set(pattern, compiled);
  }
  return compiled;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** RFC 3339, as the API server's `date-time` format takes it. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/u;

/** How the API server names a value's type: `"string"`, `"integer"`, `"object"`. */
function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function hasType(value: unknown, node: AdmissionNode): boolean {
  if (node.intOrString === true)
    return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
  switch (node.type) {
    case undefined:
      return true;
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    default:
      return typeof value === node.type;
  }
}

/**
 * A value as the API server quotes it: strings in quotes, numbers bare; a URL without its
 * user:password, which would otherwise reach the log and `/debug/policy`.
 */
const quoted = (value: unknown): string =>
  JSON.stringify(typeof value === 'string' ? withoutCredentials(value) : value);

function checkNumber(value: number, node: AdmissionNode, path: string, found: RuleViolation[]) {
  const say = (message: string) =>
    found.push({ path, message: `Invalid value: ${String(value)}: ${path} in body ${message}` });
  if (node.minimum !== undefined) {
    if (node.exclusiveMinimum === true && value <= node.minimum)
      say(`should be greater than ${String(node.minimum)}`);
    else if (value < node.minimum)
      say(`should be greater than or equal to ${String(node.minimum)}`);
  }
  if (node.maximum !== undefined) {
    if (node.exclusiveMaximum === true && value >= node.maximum)
      say(`should be less than ${String(node.maximum)}`);
    else if (value > node.maximum) say(`should be less than or equal to ${String(node.maximum)}`);
  }
}

function checkString(value: string, node: AdmissionNode, path: string, found: RuleViolation[]) {
  // Characters, as the API server counts them, not UTF-16 units.
  const length = Array.from(value).length;
  const invalid = (message: string) =>
    found.push({ path, message: `Invalid value: ${quoted(value)}: ${path} in body ${message}` });
  if (node.maxLength !== undefined && length > node.maxLength)
    found.push({
      path,
      message: `Too long: may not be more than ${String(node.maxLength)} bytes`,
    });
  if (node.minLength !== undefined && length < node.minLength)
    invalid(`should be at least ${String(node.minLength)} chars long`);
  if (node.pattern !== undefined && !regExp(node.pattern).test(value))
    invalid(`should match '${node.pattern}'`);
  if (node.format === 'date-time' && !DATE_TIME.test(value))
    invalid(`must be of type date-time: ${quoted(value)}`);
}

/** Items of a `set` list, or of a `map` list by its keys, that repeat an earlier one. */
function checkUnique(value: unknown[], node: AdmissionNode, path: string, found: RuleViolation[]) {
  if (node.listType !== 'set' && node.listType !== 'map') return;
  const keys = node.listMapKeys ?? [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const identity =
      node.listType === 'map' && isObject(item)
        ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, item[k]])))
        : JSON.stringify(item);
    if (seen.has(identity))
      found.push({
        path: `${path}[${String(i)}]`,
        message: `Duplicate value: ${node.listType === 'map' ? identity : quoted(item)}`,
      });
    seen.add(identity);
  });
}

function check(value: unknown, node: AdmissionNode, path: string, found: RuleViolation[]): void {
  if (!hasType(value, node)) {
    const type = node.intOrString === true ? 'integer or string' : String(node.type);
    found.push({
      path,
      message: `Invalid value: ${quoted(typeName(value))}: ${path} in body must be of type ${type}: ${quoted(typeName(value))}`,
    });
    return;
  }
  if (node.enum !== undefined && !node.enum.some((allowed) => allowed === value))
    found.push({
      path,
      message: `Unsupported value: ${quoted(value)}: supported values: ${node.enum.map(quoted).join(', ')}`,
    });
  if (typeof value === 'number') checkNumber(value, node, path, found);
  if (typeof value === 'string') checkString(value, node, path, found);
  if (Array.isArray(value)) {
    if (node.maxItems !== undefined && value.length > node.maxItems)
      found.push({
        path,
        message: `Too many: ${String(value.length)}: must have at most ${String(node.maxItems)} items`,
      });
    if (node.minItems !== undefined && value.length < node.minItems)
      found.push({
        path,
        message: `Invalid value: ${String(value.length)}: ${path} in body should have at least ${String(node.minItems)} items`,
      });
    checkUnique(value, node, path, found);
    const items = node.items;
    if (items !== undefined)
      value.forEach((item, i) => {
        if (item !== null) check(item, items, `${path}[${String(i)}]`, found);
      });
  }
  if (isObject(value)) {
    const entries = Object.entries(value).filter(([, child]) => child !== null);
    if (node.minProperties !== undefined && entries.length < node.minProperties)
      found.push({
        path,
        message: `Invalid value: ${String(entries.length)}: ${path} in body should have at least ${String(node.minProperties)} properties`,
      });
    if (node.maxProperties !== undefined && entries.length > node.maxProperties)
      found.push({
        path,
        message: `Too many: ${String(entries.length)}: must have at most ${String(node.maxProperties)} items`,
      });
    // A field the schema defaults is never missing: the API server sets it first.
    for (const name of node.required ?? [])
      if ((value[name] ?? null) === null && node.fields?.[name]?.default === undefined)
        found.push({ path: path === '' ? name : `${path}.${name}`, message: 'Required value' });
    for (const [name, child] of entries) {
      const childNode = node.fields?.[name] ?? node.values;
      // A map's entry is named as a field is: `spec.resources.limits.cpu`.
      if (childNode !== undefined)
        check(child, childNode, path === '' ? name : `${path}.${name}`, found);
    }
  }
}

/** Every structural keyword of the kind that `object` breaks, at the field that breaks it. */
export function schemaViolations(object: unknown, node: AdmissionNode): RuleViolation[] {
  const found: RuleViolation[] = [];
  check(object, node, '', found);
  return found;
}
