import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ADMISSION_SCHEMA } from '../../../contract/src/api/admissionSchema.ts';
import type { AdmissionNode } from '../../../contract/src/api/admissionSchema.types.ts';
import { celViolations } from './celAdmission.ts';
import { schemaViolations } from './schemaChecks.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('schemaViolations', () => {
  const node: AdmissionNode = {
    type: 'object',
    required: ['name', 'mode'],
    fields: {
      name: { type: 'string', maxLength: 5, pattern: '^[a-z]+$' },
      mode: { type: 'string', enum: ['A', 'B'], default: 'A' },
      count: { type: 'integer', minimum: 1, maximum: 3 },
      share: { type: 'number', minimum: 0, exclusiveMinimum: true },
      at: { type: 'string', format: 'date-time' },
      tags: { type: 'array', maxItems: 2, listType: 'set', items: { type: 'string' } },
      rows: {
        type: 'array',
        listType: 'map',
        listMapKeys: ['id'],
        items: { type: 'object', fields: { id: { type: 'string' } } },
      },
      sizes: { type: 'object', minProperties: 1, values: { intOrString: true, pattern: '^\\d+$' } },
    },
  };
  const said = (value: unknown) =>
    schemaViolations(value, node).map((v) => `${v.path}: ${v.message}`);

  it('takes a value that keeps every keyword, and a default for a required field', () => {
    expect(said({ name: 'ok' })).toEqual([]);
    expect(said({ name: 'ok', count: 3, share: 0.5, at: '2026-11-26T10:00:00Z' })).toEqual([]);
    expect(said({ name: 'ok', sizes: { a: 1, b: '2' }, tags: ['x', 'y'] })).toEqual([]);
  });

  it('names each broken keyword at its field, in the API server’s words', () => {
    expect(said({})).toEqual(['name: Required value']);
    expect(said({ name: 'Too-long', mode: 'C' }).sort()).toEqual([
      'mode: Unsupported value: "C": supported values: "A", "B"',
      'name: Invalid value: "Too-long": name in body should match \'^[a-z]+$\'',
      'name: Too long: may not be more than 5 bytes',
    ]);
    expect(said({ name: 'a', count: 0, share: 0 })).toEqual([
      'count: Invalid value: 0: count in body should be greater than or equal to 1',
      'share: Invalid value: 0: share in body should be greater than 0',
    ]);
    expect(said({ name: 'a', count: 1.5 })).toEqual([
      'count: Invalid value: "number": count in body must be of type integer: "number"',
    ]);
    expect(said({ name: 'a', at: 'tomorrow' })).toEqual([
      'at: Invalid value: "tomorrow": at in body must be of type date-time: "tomorrow"',
    ]);
  });

  it('finds repeats in set and map lists, and too many items', () => {
    expect(said({ name: 'a', tags: ['x', 'x', 'y'] })).toEqual([
      'tags: Too many: 3: must have at most 2 items',
      'tags[1]: Duplicate value: "x"',
    ]);
    expect(said({ name: 'a', rows: [{ id: 'p' }, { id: 'q' }, { id: 'p' }] })).toEqual([
      'rows[2]: Duplicate value: {"id":"p"}',
    ]);
  });

  it('names a map’s entry as a field, and reads null as absent', () => {
    expect(said({ name: 'a', sizes: { cpu: 'lots' } })).toEqual([
      'sizes.cpu: Invalid value: "lots": sizes.cpu in body should match \'^\\d+$\'',
    ]);
    expect(said({ name: 'a', sizes: {} })).toEqual([
      'sizes: Invalid value: 0: sizes in body should have at least 1 properties',
    ]);
    expect(said({ name: 'a', count: null })).toEqual([]);
  });
});

/** Every whole Breakwater object in the samples, the examples and the docs' YAML blocks. */
function shippedManifests(): { where: string; object: { kind: string }; elided: boolean }[] {
  const texts: { where: string; text: string }[] = [];
  for (const dir of ['config/samples', 'docs/examples'])
    for (const name of readdirSync(join(root, dir)).filter((n) => n.endsWith('.yaml')))
      texts.push({ where: `${dir}/${name}`, text: readFileSync(join(root, dir, name), 'utf8') });
  const markdown = [
    'README.md',
    ...readdirSync(join(root, 'docs'), { recursive: true })
      .map(String)
      .filter((n) => n.endsWith('.md'))
      .map((n) => `docs/${n}`),
  ];
  for (const file of markdown) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [i, block] of [...text.matchAll(/```ya?ml\n([\s\S]*?)```/g)].entries())
      texts.push({ where: `${file} block ${String(i + 1)}`, text: block[1] ?? '' });
  }
  const found: { where: string; object: { kind: string }; elided: boolean }[] = [];
  for (const { where, text } of texts)
    for (const doc of parseAllDocuments(text)) {
      const object = doc.toJS() as { apiVersion?: string; kind?: string; spec?: unknown } | null;
      if (
        object?.apiVersion === 'breakwater.dev/v1alpha1' &&
        object.kind !== undefined &&
        object.spec !== undefined
      )
        found.push({ where, object: object as { kind: string }, elided: text.includes('# …') });
    }
  return found;
}

describe('the manifests the project ships and documents', () => {
  const manifests = shippedManifests();

  it('are many', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(10);
  });

  it.each(manifests)('$where: $object.kind passes admission’s checks', ({ object, elided }) => {
    const schema = ADMISSION_SCHEMA[object.kind] as AdmissionNode;
    const found = [...schemaViolations(object, schema), ...celViolations(object, schema)];
    // A block that leaves fields out (`# …`) is not held to the required ones.
    expect(found.filter((v) => !elided || v.message !== 'Required value')).toEqual([]);
  });
});
