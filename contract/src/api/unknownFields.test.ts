import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { describeUnknownFields, unknownFields, type FieldShape } from './unknownFields.ts';
import { FIELD_SHAPES } from './fieldShapes.ts';

const shape = (kind: string): FieldShape => {
  const found = FIELD_SHAPES[kind];
  if (found === undefined) throw new Error(`no shape for ${kind}`);
  return found;
};

const cbp = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'p' }) => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'CircuitBreakerPolicy',
  metadata,
  spec,
});

describe('unknownFields, as kubectl apply finds them', () => {
  it.each<[string, unknown, string, { path: string; suggestion?: string }[]]>([
    [
      'a typo, with the field it was meant to be',
      cbp({ failureTreshold: 5 }),
      'CircuitBreakerPolicy',
      [{ path: 'spec.failureTreshold', suggestion: 'failureThreshold' }],
    ],
    [
      'a field from a newer release, without a guess',
      cbp({ loopBreakerThresholdOfTheFuture: 3 }),
      'CircuitBreakerPolicy',
      [{ path: 'spec.loopBreakerThresholdOfTheFuture' }],
    ],
    [
      'a nested unknown field inside a list item',
      {
        kind: 'AgentDeployment',
        metadata: { name: 'a' },
        spec: {
          model: { name: 'm' },
          provider: { apiKeySecretRef: { name: 's', key: 'k' } },
          backends: [
            { name: 'east', baseURL: 'http://e' },
            { name: 'west', baseURL: 'http://w', wieght: 2 },
          ],
        },
      },
      'AgentDeployment',
      [{ path: 'spec.backends[1].wieght', suggestion: 'weight' }],
    ],
    [
      'nothing in metadata kubectl accepts: labels, annotations, namespace, managed fields',
      cbp(
        { failureThreshold: 5 },
        { name: 'p', namespace: 'n', labels: { a: 'b' }, annotations: { 'x/y': 'z' }, uid: 'u' },
      ),
      'CircuitBreakerPolicy',
      [],
    ],
    [
      'nothing inside a field that keeps unknown fields (a toleration, as Kubernetes has it)',
      {
        kind: 'AgentDeployment',
        metadata: { name: 'a' },
        spec: {
          model: { name: 'm' },
          provider: { apiKeySecretRef: { name: 's', key: 'k' } },
          podTemplate: { tolerations: [{ key: 'gpu', operator: 'Exists', anyFutureField: 1 }] },
        },
      },
      'AgentDeployment',
      [],
    ],
    [
      'a misspelt metadata field',
      cbp({}, { name: 'p', lables: { a: 'b' } }),
      'CircuitBreakerPolicy',
      [{ path: 'metadata.lables', suggestion: 'labels' }],
    ],
  ])('finds %s', (_name, object, kind, expected) => {
    expect(unknownFields(object, shape(kind))).toEqual(expected);
  });

  it('accepts every sample the project ships', () => {
    const dir = fileURLToPath(new URL('../../../config/samples', import.meta.url));
    let checked = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
        const object = doc.toJS() as { kind?: string } | null;
        const kindShape = object?.kind === undefined ? undefined : FIELD_SHAPES[object.kind];
        if (kindShape === undefined) continue;
        expect([file, unknownFields(object, kindShape)]).toEqual([file, []]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3);
  });

  it('says what is wrong, where, and both ways out', () => {
    expect(
      describeUnknownFields('CircuitBreakerPolicy', 'p', 'policies.yaml', [
        { path: 'spec.failureTreshold', suggestion: 'failureThreshold' },
      ]),
    ).toBe(
      'CircuitBreakerPolicy "p" in policies.yaml: unknown field spec.failureTreshold (did you mean ' +
        'failureThreshold?); kubectl apply refuses it too (strict field validation): fix the ' +
        'spelling, or upgrade Breakwater if the field is from a newer release',
    );
  });
});
