import { describe, expect, it } from '@jest/globals';
import { AgentRuntime } from '../agentRuntime.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { dailyBudget } from '../budget/budgetFixture.ts';
import { createLogger } from '../telemetry/logger.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { MessagesPlan } from './messagesPlan.ts';
import { unlistenedOptions } from '../runtimeFixture.ts';

/** A runtime (not listening) with `env`, under which each test applies policies. */
function runtime(env: Record<string, string> = {}): AgentRuntime {
  return new AgentRuntime({
    options: unlistenedOptions(),
    env: { ANTHROPIC_API_KEY: 'sk-test', ...env },
    clock: new ManualClock(0),
    logger: createLogger('silent'),
  });
}

/** The sample policy with one backend and none of the optional features: served lean. */
function leanDoc(): PolicyDocument {
  const doc = samplePolicyDocument();
  return { ...doc, backends: doc.backends.slice(0, 1) };
}

function planUnder(rt: AgentRuntime, doc: PolicyDocument): MessagesPlan | undefined {
  expect(rt.store.offerDocument(doc, 'file:/etc/policy.json')).toBe('applied');
  return rt.active?.messages;
}

const secondBackend = (doc: PolicyDocument): PolicyDocument => {
  const [first] = doc.backends;
  if (first === undefined) throw new Error('the sample policy has no backend');
  return { ...doc, backends: [first, { ...first, name: 'second' }] };
};

describe('the /v1/messages plan, chosen when a policy is applied', () => {
  it('is lean for one backend and none of the optional features', () => {
    expect(planUnder(runtime(), leanDoc())).toMatchObject({ way: 'lean', served: 0 });
  });

  it.each<[string, (doc: PolicyDocument) => PolicyDocument]>([
    ['response cache', (d) => ({ ...d, cache: { ...d.cache, enabled: true } })],
    ['audit log', (d) => ({ ...d, audit: { ...d.audit, enabled: true } })],
    ['prompt-injection screen', (d) => ({ ...d, security: { promptInjection: 'Flag' } })],
    ['prompt-injection screen', (d) => ({ ...d, security: { promptInjection: 'Block' } })],
    [
      'budgets',
      (d) => ({
        ...d,
        rateLimit: {
          ...d.rateLimit,
          spend: { shareOf: 1, timeZone: 'UTC', budgets: [dailyBudget({ limitMicroUsd: 10_000 })] },
        },
      }),
    ],
    ['more than one backend', secondBackend],
  ])('sends every call the long way for its %s', (because, change) => {
    expect(planUnder(runtime(), change(leanDoc()))).toEqual({ way: 'long', because });
  });

  it('sends every call the long way under BREAKWATER_LEAN_ROUTE=off', () => {
    expect(planUnder(runtime({ BREAKWATER_LEAN_ROUTE: 'off' }), leanDoc())).toEqual({
      way: 'long',
      because: 'BREAKWATER_LEAN_ROUTE=off',
    });
  });

  it('is chosen again by a reload: a feature added sends calls the long way, removed the lean', () => {
    const rt = runtime();
    const lean = planUnder(rt, leanDoc());
    expect(lean?.way).toBe('lean');
    const cached = leanDoc();
    expect(planUnder(rt, { ...cached, cache: { ...cached.cache, enabled: true } })).toEqual({
      way: 'long',
      because: 'response cache',
    });
    const again = planUnder(rt, leanDoc());
    expect(again?.way).toBe('lean');
    expect(again).not.toBe(lean);
  });

  it('holds each model’s guard once looked up: the one backend’s, made on first use', () => {
    const rt = runtime();
    const doc = leanDoc();
    const plan = planUnder(rt, doc);
    if (plan?.way !== 'lean') throw new Error('expected the lean plan');
    const backend = doc.backends[0]?.name ?? '';
    // No breaker is made before a call needs one, as on the long way.
    expect(rt.active?.guard.breakers()).toEqual({});
    const primary = plan.guardOf(doc.model.name);
    expect(primary?.target.name).toBe(`${backend}/${doc.model.name}`);
    expect(plan.guardOf(doc.model.name)).toBe(primary);
    const other = plan.guardOf('claude-other-model');
    expect(other?.target.name).toBe(`${backend}/claude-other-model`);
    expect(plan.guardOf('claude-other-model')).toBe(other);
  });
});
