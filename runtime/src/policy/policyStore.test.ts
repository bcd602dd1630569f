import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { PolicyStore, type OfferResult } from './policyStore.ts';

function store() {
  const offers: OfferResult[] = [];
  const s = new PolicyStore(new ManualClock(5), {
    onOffer: (result) => offers.push(result),
  });
  return { s, offers };
}

const text = (change: (d: Record<string, unknown>) => void = () => undefined) => {
  const doc = structuredClone(samplePolicyDocument()) as unknown as Record<string, unknown>;
  change(doc);
  return JSON.stringify(doc);
};

describe('PolicyStore', () => {
  it('applies a valid policy, ignores the same one again, and announces only changes', () => {
    const { s, offers } = store();
    const seen: string[] = [];
    s.onChange((next) => seen.push(next.hash));
    s.offerText(text(), 'file:a');
    s.offerText(text(), 'file:a');
    s.offerText(
      text((d) => (d.timeoutMs = 1_000)),
      'file:a',
    );
    expect(offers).toEqual(['applied', 'unchanged', 'applied']);
    expect(seen).toHaveLength(2);
  });

  it.each([
    ['bad JSON', '{', /not valid JSON/],
    ['a bad field', text((d) => (d.timeoutMs = -1)), /timeoutMs/],
  ])('keeps the last good policy on %s and says why', (_name, bad, why) => {
    const { s } = store();
    s.offerText(text(), 'file:a');
    const good = s.current?.hash;
    expect(s.offerText(bad, 'file:a')).toBe('rejected');
    expect(s.current?.hash).toBe(good);
    expect(s.lastRejection?.error).toMatch(why);
    expect(s.status()).toMatchObject({ rejected: 1, applied: 1 });
  });

  it('puts the last good policy back when a component cannot take a checked one', () => {
    const { s, offers } = store();
    const taken: number[] = [];
    s.onChange((next) => {
      if (next.doc.timeoutMs === 1_234) throw new Error('Invalid URL');
      taken.push(next.doc.timeoutMs);
    });
    s.offerText(text(), 'file:a');
    const good = s.current?.hash;
    const result = s.offerText(
      text((d) => (d.timeoutMs = 1_234)),
      'file:a',
    );
    expect(result).toBe('rejected');
    expect(offers).toEqual(['applied', 'rejected']);
    expect(s.current?.hash).toBe(good);
    expect(s.lastRejection?.error).toBe('could not apply: Invalid URL');
    // Told twice of the good one: when it came, and when it went back in force.
    expect(taken).toEqual([samplePolicyDocument().timeoutMs, samplePolicyDocument().timeoutMs]);
  });

  it('fails the start when a component cannot take the first policy', () => {
    const { s } = store();
    s.onChange(() => {
      throw new Error('Invalid URL');
    });
    expect(() => s.offerText(text(), 'file:a')).toThrow('Invalid URL');
  });
});
