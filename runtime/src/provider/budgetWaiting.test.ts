/**
 * A call that a busy budget refuses (spent + its worst case fits; what calls in flight hold is
 * what blocks it) waits for them, for up to the budget's waitForHeld, before it is refused:
 * served once a call in flight settles, refused as busy after the wait, and counted once.
 * Issue 50: under concurrency a budget refused calls with nothing spent.
 */
import { describe, expect, it } from '@jest/globals';
import { anthropicClassifier } from './anthropic/errorClassification.ts';
import { isBudgetExhaustedError } from '../guard/errors.ts';
import { GuardSet } from '../guard/guardSet/guardSet.ts';
import { budgetsSettled } from '../guard/guardSet/answerSettlements.ts';
import type {
  BudgetSettings,
  PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { Backend } from './backendPool.ts';
import { routerOver, testBackend } from './routerFixture.ts';
import { TEST_MODEL_PRICE, dailyBudget } from '../budget/budgetFixture.ts';

const NOON = Date.parse('2026-11-24T12:00:00Z');
/** A cent a day: one call's worst case (100 in, 1,000 out: $0.0051) fits, two do not. */
const CENT = dailyBudget({ limitMicroUsd: 10_000, waitForHeldMs: 2_000 });

/** A provider whose answers the test lets go, one by one. */
function setup(budget: BudgetSettings) {
  const sample = samplePolicyDocument();
  const doc: PolicyDocument = {
    ...sample,
    model: { ...sample.model, name: 'test-model', fallbacks: [] },
    rateLimit: { ...sample.rateLimit, spend: { shareOf: 1, timeZone: 'UTC', budgets: [budget] } },
    pricing: [TEST_MODEL_PRICE],
  };
  const clock = new ManualClock(NOON);
  const guard = new GuardSet<Backend>({ classifier: anthropicClassifier, doc, clock });
  const waiting: (() => void)[] = [];
  let asked = 0;
  const backend = testBackend({
    client: {
      post: () => ({
        asResponse: () => {
          asked++;
          return new Promise<Response>((resolve) => {
            waiting.push(() => {
              resolve(
                new Response(
                  JSON.stringify({
                    type: 'message',
                    usage: { input_tokens: 100, output_tokens: 200 },
                  }),
                  { status: 200 },
                ),
              );
            });
          });
        },
      }),
    },
  });
  const router = routerOver(backend, guard, doc, clock);
  const send = () =>
    router.send({
      via: 'sdk',
      body: { max_tokens: 1_000, messages: [] },
      stream: false,
      models: [doc.model.name],
      signal: new AbortController().signal,
      estimate: { inputTokens: 100, outputTokens: 1_000 },
    });
  return { guard, clock, send, waiting, asked: () => asked };
}

/** Lets promises and setImmediate callbacks run (no time passes on the manual clock). */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await budgetsSettled();
};

describe('a busy budget waits for the calls in flight', () => {
  it('serves a call once the call in flight that held its room settles', async () => {
    const { guard, send, waiting, asked } = setup(CENT);
    const first = send();
    await turns();
    expect(asked()).toBe(1);
    const second = send(); // nothing spent; the first holds $0.0051 of the cent
    await turns();
    expect(asked()).toBe(1);
    waiting.shift()?.(); // the first answers ($0.0011) and settles
    await first;
    await turns();
    expect(asked()).toBe(2);
    waiting.shift()?.();
    await expect(second).resolves.toBeDefined();
    await turns();
    expect(guard.budgets.refusals().get('daily')).toBeUndefined();
  });

  it("refuses as busy after the budget's waitForHeld, with a short retry-after, counted once", async () => {
    const { guard, clock, send, waiting } = setup(CENT);
    const first = send();
    await turns();
    const second = send().catch((e: unknown) => e);
    for (let waited = 0; waited <= 2_000; waited += 50) {
      clock.advance(50);
      await turns();
    }
    const err = await second;
    expect(isBudgetExhaustedError(err) && err.reason).toBe('busy');
    expect(isBudgetExhaustedError(err) && err.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(isBudgetExhaustedError(err) && err.message).toContain(
      'is busy: spent 0 of 0.01 USD, 0.0051 USD held by calls in flight',
    );
    expect(guard.budgets.refusals().get('daily')).toMatchObject({ busy: 1, exhausted: 0 });
    waiting.shift()?.();
    await first;
  });

  it('refuses at once, as exhausted, when spent + the worst case is over the limit', async () => {
    const { guard, send, waiting } = setup({ ...CENT, limitMicroUsd: 6_000 });
    const first = send();
    await turns();
    waiting.shift()?.();
    await first; // $0.0011 spent: another $0.0051 does not fit $0.006
    await turns();
    const err = await send().catch((e: unknown) => e);
    expect(isBudgetExhaustedError(err) && err.reason).toBe('exhausted');
    expect(isBudgetExhaustedError(err) && err.retryHelps).toBe(false);
    expect(guard.budgets.refusals().get('daily')).toMatchObject({ busy: 0, exhausted: 1 });
  });
});
