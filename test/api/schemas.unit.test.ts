import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { buildCrd, renderCrdYaml } from '../../scripts/crdgen/crdManifest.ts';
import { describeDrift, findDrift } from '../../scripts/crdgen/drift.ts';
import {
  inlineReferences,
  loadSchemaSet,
  mergeReference,
  walkSchema,
} from '../../scripts/crdgen/schemaSet.ts';
import type { JsonSchema, KindSchema } from '../../scripts/crdgen/schemaSet.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { ApiKinds, GROUP_VERSION } from '../../contract/src/api/resources.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const set = loadSchemaSet(join(root, 'crds/schemas'));
const kinds = set.kinds.map((kind) => [kind.crd.kind, kind] as const);
const generatedTypeFiles = readdirSync(join(root, 'contract/src/api/v1alpha1')).map(
  (file) => [file, readFileSync(join(root, 'contract/src/api/v1alpha1', file), 'utf8')] as const,
);
/** The declarations alone: doc comments quote examples such as [claude-haiku-5-5]. */
const withoutComments = (source: string): string =>
  source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

function nodesOf(kind: KindSchema): [string, JsonSchema][] {
  const nodes: [string, JsonSchema][] = [];
  walkSchema(inlineReferences(set, kind.schema, kind.file), (node, path) => {
    nodes.push([path, node]);
  });
  return nodes;
}

/**
 * The object's fields: nodes that a property name leads to (not list items or map values).
 * metadata is Kubernetes's own: a CRD may only narrow metadata.name, not describe it.
 */
function fieldsOf(kind: KindSchema): [string, JsonSchema][] {
  return nodesOf(kind).filter(([path]) => /(^|\.)[A-Za-z0-9]+$/.test(path) && path !== 'metadata');
}

function schemaAt(kind: KindSchema, jsonPath: string): JsonSchema | undefined {
  const path = jsonPath.replace(/^\./, '');
  return nodesOf(kind).find(([candidate]) => candidate === path)?.[1];
}

describe('the API schemas', () => {
  it('define the three kinds of DESIGN §2', () => {
    expect(set.kinds.map((kind) => kind.crd.kind)).toEqual([
      'AgentDeployment',
      'CircuitBreakerPolicy',
      'RateLimitPolicy',
    ]);
  });

  it.each(kinds)('give every field of %s a description', (_, kind) => {
    const undocumented = fieldsOf(kind)
      .filter(([, node]) => (node.description ?? '').trim() === '')
      .map(([path]) => path);
    expect(undocumented).toEqual([]);
  });

  it.each(kinds)('give every field of %s a structural type', (_, kind) => {
    const untyped = fieldsOf(kind)
      .filter(([, node]) => node.type === undefined && node['x-kubernetes-int-or-string'] !== true)
      .map(([path]) => path);
    expect(untyped).toEqual([]);
  });

  it.each(kinds)('bound every list and map of %s, so CEL costs stay within budget', (_, kind) => {
    const unbounded = nodesOf(kind)
      .filter(
        ([, node]) =>
          (node.type === 'array' && node.maxItems === undefined) ||
          (typeof node.additionalProperties === 'object' && node.maxProperties === undefined),
      )
      .map(([path]) => path);
    expect(unbounded).toEqual([]);
  });

  it.each(kinds)('keep the conditions of %s as a list-map keyed by type', (_, kind) => {
    const conditions = schemaAt(kind, '.status.conditions');
    expect(conditions?.['x-kubernetes-list-type']).toBe('map');
    expect(conditions?.['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(conditions?.items?.required).toEqual(
      expect.arrayContaining(['type', 'status', 'lastTransitionTime', 'reason', 'message']),
    );
  });

  it.each(kinds)('point every printer column of %s at a field that exists', (_, kind) => {
    const dangling = kind.crd.printerColumns
      .filter((column) => !column.jsonPath.startsWith('.metadata.'))
      .filter((column) => schemaAt(kind, column.jsonPath) === undefined)
      .map((column) => column.jsonPath);
    expect(dangling).toEqual([]);
  });

  it('give the AgentDeployment scale subresource a string selector', () => {
    const agent = set.kinds.find((kind) => kind.crd.kind === 'AgentDeployment');
    if (agent?.crd.scale === undefined) throw new Error('AgentDeployment has no scale paths');
    expect(schemaAt(agent, agent.crd.scale.labelSelectorPath)?.type).toBe('string');
    expect(schemaAt(agent, agent.crd.scale.specReplicasPath)?.type).toBe('integer');
    expect(schemaAt(agent, agent.crd.scale.statusReplicasPath)?.type).toBe('integer');
  });

  it.each(kinds)('name %s the way the hand-written constants do', (name, kind) => {
    const constants = ApiKinds[name as keyof typeof ApiKinds];
    expect(constants).toEqual({
      kind: kind.crd.kind,
      plural: kind.crd.plural,
      shortName: kind.crd.shortNames[0],
    });
    expect(Kinds[name as keyof typeof ApiKinds]).toMatchObject({
      apiVersion: GROUP_VERSION,
      kind: kind.crd.kind,
      plural: kind.crd.plural,
    });
  });
});

describe('a reference with keys of its own', () => {
  const duration: JsonSchema = {
    type: 'string',
    description: 'A duration.',
    'x-kubernetes-validations': [{ rule: 'a' }],
  };

  it('takes its description and default over the definition', () => {
    const merged = mergeReference(duration, {
      $ref: '#/$defs/Duration',
      description: 'Open time.',
      default: '60s',
    });
    expect(merged).toEqual({
      type: 'string',
      description: 'Open time.',
      default: '60s',
      'x-kubernetes-validations': [{ rule: 'a' }],
    });
  });

  it("adds its CEL rules to the definition's", () => {
    const merged = mergeReference(duration, {
      $ref: '#/$defs/Duration',
      'x-kubernetes-validations': [{ rule: 'b' }],
    });
    expect(merged['x-kubernetes-validations']).toEqual([{ rule: 'a' }, { rule: 'b' }]);
  });

  const spend: JsonSchema = {
    type: 'object',
    description: 'A budget.',
    required: ['name'],
    properties: { name: { type: 'string' }, percent: { type: 'integer' } },
  };

  it("adds its properties after the definition's, and its required ones", () => {
    const merged = mergeReference(spend, {
      $ref: 'common.defs.json#/$defs/Spend',
      required: ['agent'],
      properties: { agent: { type: 'string' } },
    });
    expect(Object.keys(merged.properties ?? {})).toEqual(['name', 'percent', 'agent']);
    expect(merged.required).toEqual(['name', 'agent']);
  });

  it('refuses to redefine a property the definition has', () => {
    expect(() =>
      mergeReference(spend, {
        $ref: 'common.defs.json#/$defs/Spend',
        properties: { percent: { type: 'string' } },
      }),
    ).toThrow(/adds property percent, which it already has/);
  });
});

describe('the generated CRDs', () => {
  it.each(kinds)('render %s as YAML that parses back to the same object', (_, kind) => {
    const yaml = renderCrdYaml(set, kind);
    expect(parse(yaml)).toEqual(buildCrd(set, kind));
    // kubectl reads YAML 1.1, where bare Off, yes or on would turn into booleans.
    expect(parse(yaml, { version: '1.1' })).toEqual(buildCrd(set, kind));
  });

  it.each(kinds)(
    'give %s a status subresource, its short name and the breakwater category',
    (_, kind) => {
      const crd = buildCrd(set, kind) as {
        spec: {
          names: { shortNames: string[]; categories: string[] };
          versions: { subresources: object }[];
        };
      };
      expect(crd.spec.names.shortNames).toEqual(kind.crd.shortNames);
      expect(crd.spec.names.categories).toEqual(['breakwater']);
      expect(crd.spec.versions[0]?.subresources).toHaveProperty('status', {});
    },
  );

  it('carry no generator-only keyword', () => {
    const rendered = set.kinds.map((kind) => renderCrdYaml(set, kind)).join('\n');
    expect(rendered).not.toMatch(/tsType|\$ref|\$defs|\$comment|x-breakwater-crd/);
  });
});

describe('the generated TypeScript types', () => {
  it.each(generatedTypeFiles)('%s has no index signatures', (_, source) => {
    expect(withoutComments(source)).not.toMatch(/\[\s*[A-Za-z_]+\s*:\s*string\s*\]\s*:/);
  });

  it.each(generatedTypeFiles)('%s has no tuple types', (_, source) => {
    expect(withoutComments(source)).not.toMatch(/(:|=|\|)\s*\[\s*[A-Za-z'"\]]/);
  });

  it.each(generatedTypeFiles)('%s says it is generated', (_, source) => {
    expect(source.split('\n')[0]).toMatch(/^\/\/ Generated by scripts\/generate\.ts/);
  });
});

describe('drift between generated files and the repository', () => {
  const expected = new Map([
    ['crds/a.yaml', 'kind: A\nspec: 1\n'],
    ['crds/b.yaml', 'kind: B\n'],
  ]);

  it.each([
    ['finds nothing when every file matches', new Map(expected), []],
    [
      'reports a file the schemas generate but the repository lacks',
      new Map([['crds/a.yaml', 'kind: A\nspec: 1\n']]),
      [{ file: 'crds/b.yaml', problem: 'missing' }],
    ],
    [
      'reports a generated file no schema produces any more',
      new Map([...expected, ['crds/old.yaml', 'kind: Old\n']]),
      [{ file: 'crds/old.yaml', problem: 'stale' }],
    ],
    [
      'reports the first line that differs',
      new Map([...expected, ['crds/a.yaml', 'kind: A\nspec: 2\n']]),
      [
        {
          file: 'crds/a.yaml',
          problem: 'changed',
          line: 2,
          expected: 'spec: 1',
          actual: 'spec: 2',
        },
      ],
    ],
  ])('%s', (_, actual, drift) => {
    expect(findDrift(expected, actual)).toEqual(drift);
  });

  it('names each drifted file and how to fix it', () => {
    const summary = describeDrift(findDrift(expected, new Map([['crds/a.yaml', 'kind: Z\n']])));
    expect(summary).toContain('crds/a.yaml: differs from line 1');
    expect(summary).toContain('crds/b.yaml: missing');
    expect(summary).toContain('make generate');
  });
});
