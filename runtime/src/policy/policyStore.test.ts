import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { PolicyStore, type OfferResult } from './policyStore.ts';

function store(loadModules?: (doc: PolicyDocument) => Promise<void> | undefined) {
  const offers: OfferResult[] = [];
  const s = new PolicyStore(new ManualClock(5), {
    onOffer: (result) => offers.push(result),
    ...(loadModules === undefined ? {} : { loadModules }),
  });
  return { s, offers };
}

/** Modules that load when `finish()` is called (or fail with `fail()`), for documents with a given timeout. */
function modulesFor(timeoutMs: number) {
  let finish: () => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  const loading = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  // A store that never awaits it must fail its test, not the test process.
  loading.catch(() => undefined);
  const load = (doc: PolicyDocument) => (doc.timeoutMs === timeoutMs ? loading : undefined);
  return { load, finish, fail };
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

  it('applies a document that needs modules once they are loaded, the last good one serving meanwhile', async () => {
    const modules = modulesFor(2_000);
    const { s, offers } = store(modules.load);
    const seen: number[] = [];
    s.onChange((next) => seen.push(next.doc.timeoutMs));
    s.offerText(text(), 'file:a');
    const offered = s.offerText(
      text((d) => (d.timeoutMs = 2_000)),
      'file:a',
    );
    expect(offered).toBe('loading');
    expect(s.current?.doc.timeoutMs).toBe(samplePolicyDocument().timeoutMs);
    modules.finish();
    await s.settled();
    expect(s.current?.doc.timeoutMs).toBe(2_000);
    expect(offers).toEqual(['applied', 'applied']);
    expect(seen).toEqual([samplePolicyDocument().timeoutMs, 2_000]);
  });

  it('keeps a later offer that arrived while an earlier one waited for its modules', async () => {
    const modules = modulesFor(2_000);
    const { s, offers } = store(modules.load);
    s.offerText(text(), 'file:a');
    s.offerText(
      text((d) => (d.timeoutMs = 2_000)),
      'file:a',
    );
    expect(
      s.offerText(
        text((d) => (d.timeoutMs = 3_000)),
        'file:a',
      ),
    ).toBe('applied');
    modules.finish();
    await s.settled();
    expect(s.current?.doc.timeoutMs).toBe(3_000);
    expect(offers).toEqual(['applied', 'applied']);
  });

  it('refuses a document whose modules cannot load, and says why', async () => {
    const modules = modulesFor(2_000);
    const { s, offers } = store(modules.load);
    s.offerText(text(), 'file:a');
    const good = s.current?.hash;
    s.offerText(
      text((d) => (d.timeoutMs = 2_000)),
      'file:a',
    );
    modules.fail(new Error("Cannot find package '@redis/client'"));
    await s.settled();
    expect(offers).toEqual(['applied', 'rejected']);
    expect(s.current?.hash).toBe(good);
    expect(s.lastRejection?.error).toBe(
      "could not load what it needs: Cannot find package '@redis/client'",
    );
  });
});
