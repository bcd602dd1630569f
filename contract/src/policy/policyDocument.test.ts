import { describe, expect, it } from '@jest/globals';
import { canonicalJson } from './policyDocument.ts';
import { samplePolicyDocument } from './policyFixtures.ts';

/**
 * canonicalJson as it was first written: a replacer sorting each object's keys. Journals and
 * policy hashes were made with it, so the faster one must write the same bytes.
 */
function replacerCanonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

class Stamped {
  readonly z = 1;
  readonly a = 2;
  toJSON(key: string) {
    return { key, b: [this.z, { y: 1, x: 2 }], a: this.a };
  }
}

const sparse: unknown[] = [1];
sparse[3] = { b: 1, a: 2 };

describe('canonicalJson', () => {
  it.each<[string, unknown]>([
    ['a policy document', samplePolicyDocument()],
    [
      'a Messages API request',
      {
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        messages: [
          {
            role: 'user',
            content: [{ type: 'text', text: 'Step 1: what is a bulkhead? "quoted" ✓' }],
          },
        ],
        metadata: { user_id: 'u' },
      },
    ],
    ['a tool call', { server: 'tools', tool: 'file_ticket', arguments: { title: 't', n: 3 } }],
    ['keys that look like integers', { b: 1, 10: 'ten', 2: 'two', a: { 1: 1, '01': 2 } }],
    [
      'undefined, functions and symbols',
      { b: undefined, a: () => 1, c: Symbol('s'), d: [undefined, () => 1] },
    ],
    ['an array with holes', sparse],
    ['numbers JSON cannot hold', { nan: NaN, inf: -Infinity, zero: -0, big: 1e21 }],
    ['dates and buffers (toJSON)', { when: new Date(0), bytes: Buffer.from('ab') }],
    ['an object whose toJSON gives unsorted keys', { z: new Stamped(), list: [new Stamped()] }],
    ['a boxed string', { s: Object('ab') as unknown }],
    ['null and primitives', [null, true, 'x', 1.5]],
    ['a bare string', 'plain'],
    ['nothing', undefined],
  ])('writes %s as the replacer did', (_name, value) => {
    expect(canonicalJson(value)).toBe(replacerCanonicalJson(value));
  });

  it('does not depend on the order of keys', () => {
    expect(canonicalJson({ b: { d: 1, c: [{ f: 1, e: 2 }] }, a: 0 })).toBe(
      '{"a":0,"b":{"c":[{"e":2,"f":1}],"d":1}}',
    );
  });
});
