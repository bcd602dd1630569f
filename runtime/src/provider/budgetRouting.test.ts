import { describe, expect, it } from '@jest/globals';
import { anthropicClassifier } from './anthropic/errorClassification.ts';
import { isBudgetExhaustedError } from '../guard/errors.ts';
import { GuardSet } from '../guard/guardSet/guardSet.ts';
import { budgetsSettled } from '../guard/guardSet/answerSettlements.ts';
import type {
  BudgetSettings,
  ModelPriceSettings,
  PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { Backend } from './backendPool.ts';
import type { StreamSink } from './streamRelay.ts';
import { routerOver, testBackend } from './routerFixture.ts';
import { dailyBudget } from '../budget/budgetFixture.ts';

const NOON = Date.parse('2026-11-24T12:00:00Z');

function price(model: string, input: number, output: number): ModelPriceSettings {
  return {
    model,
    inputMicroUsdPerMTok: input,
    outputMicroUsdPerMTok: output,
    cacheWrite5mMicroUsdPerMTok: input * 1.25,
    cacheWrite1hMicroUsdPerMTok: input * 2,
    cacheReadMicroUsdPerMTok: input / 10,
  };
}

/** Picodollars per token: opus 15/75, sonnet 3/15, haiku 1/5 (dollars per million). */
const PRICES = [
  price('test-opus', 15_000_000, 75_000_000),
  price('test-sonnet', 3_000_000, 15_000_000),
  price('test-haiku', 1_000_000, 5_000_000),
];
/** A cent a day. Worst cases at 100 in, 1,000 out: opus $0.0765, sonnet $0.0153, haiku $0.0051. */
const CENT = dailyBudget({ limitMicroUsd: 10_000, onExhausted: 'Fallback' });

type Answer = (model: string) => Response;

/** `call`'s outcome once the budgets it held are settled (guardSet.ts settles after the answer). */
async function afterSettlement<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } finally {
    await budgetsSettled();
  }
}

function setup(budget: BudgetSettings, answer: Answer) {
  const sample = samplePolicyDocument();
  const doc: PolicyDocument = {
    ...sample,
    model: { ...sample.model, name: 'test-opus', fallbacks: ['test-sonnet', 'test-haiku'] },
    rateLimit: { ...sample.rateLimit, spend: { shareOf: 1, timeZone: 'UTC', budgets: [budget] } },
    pricing: PRICES,
  };
  const clock = new ManualClock(NOON);
  const guard = new GuardSet<Backend>({ classifier: anthropicClassifier, doc, clock });
  const called: string[] = [];
  const backend = testBackend({
    client: {
      post: (_path: string, request: { body: { model: string } }) => ({
        asResponse: () => {
          called.push(request.body.model);
          return Promise.resolve(answer(request.body.model));
        },
      }),
    },
  });
  const router = routerOver(backend, guard, doc, clock);
  // The call alone: its answer, before its budgets are settled.
  const answerOnly = (stream = false, sink?: StreamSink) =>
    router.send({
      via: 'sdk',
      body: { max_tokens: 1_000, messages: [] },
      stream,
      ...(sink === undefined ? {} : { sink }),
      models: [doc.model.name, ...doc.model.fallbacks],
      signal: new AbortController().signal,
      estimate: { inputTokens: 100, outputTokens: 1_000 },
    });
  // The call, and its settlement after the answer (as the process settles it before it reads
  // its next request).
  const send = (stream = false, sink?: StreamSink) => afterSettlement(answerOnly(stream, sink));
  return { guard, called, send, answerOnly, doc };
}

const plain =
  (usage: object): Answer =>
  () =>
    new Response(JSON.stringify({ type: 'message', usage }), { status: 200 });

class Sink implements StreamSink {
  committed = false;
  servedBy: string | undefined = undefined;
  budgetFallback?: boolean;
  errorEventSent = false;
  readonly chunks: Buffer[] = [];
  begin(): void {
    // the head: nothing to record
  }
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }
  onDrain(resume: () => void): void {
    resume();
  }
}

describe('budgets on the model-call path', () => {
  it('serves the cheapest fallback that fits under Fallback, then refuses once none does', async () => {
    const { guard, called, send } = setup(CENT, plain({ input_tokens: 100, output_tokens: 500 }));
    // Each haiku call costs $0.0026: two fit under a cent with a $0.0051 worst case, a third not.
    for (let i = 0; i < 2; i++) {
      const routed = await send();
      expect(routed).toMatchObject({
        model: 'test-haiku',
        budgetFallback: true,
        fallbackUsed: true,
      });
    }
    const err = await send().catch((e: unknown) => e);
    // The refusal quotes the cheapest model's worst case, the least the call could have cost.
    expect(isBudgetExhaustedError(err) && err.message).toContain(
      'budget "daily" (Day, per Agent) of agent support-agent is exhausted: spent 0.0052 of 0.01 USD, this call may cost up to 0.0051 USD',
    );
    expect(called).toEqual(['test-haiku', 'test-haiku']);
    expect(guard.budgets.account('daily')?.spentPico).toBe(5_200_000_000n);
    // Two calls served by the fallback and one refused: not three refusals.
    expect(guard.budgets.refusals().get('daily')).toEqual({
      exhausted: 1,
      busy: 0,
      unpriced: 0,
      unbounded: 0,
      fallback: 2,
      shadow: 0,
    });
  });

  it('refuses under Refuse without trying a fallback', async () => {
    const { guard, called, send } = setup(
      { ...CENT, onExhausted: 'Refuse' },
      plain({ input_tokens: 1, output_tokens: 1 }),
    );
    const err = await send().catch((e: unknown) => e);
    expect(isBudgetExhaustedError(err)).toBe(true);
    expect(called).toEqual([]);
    expect(guard.budgets.refusals().get('daily')).toMatchObject({ exhausted: 1, fallback: 0 });
  });

  it('lets 32 concurrent calls spend no more than the budget, each spending its worst case', async () => {
    const { guard, called, send } = setup(
      { ...CENT, onExhausted: 'Refuse', limitMicroUsd: 500_000 },
      plain({ input_tokens: 100, output_tokens: 1_000 }),
    );
    const outcomes = await Promise.all(
      Array.from({ length: 32 }, () =>
        send().then(
          () => 'served',
          (err: unknown) => (isBudgetExhaustedError(err) ? 'refused' : String(err)),
        ),
      ),
    );
    // $0.0765 each: six fit in $0.50.
    expect(outcomes.filter((o) => o === 'served')).toHaveLength(6);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(26);
    expect(called).toHaveLength(6);
    const account = guard.budgets.account('daily');
    expect(account?.spentPico).toBe(6n * 76_500_000_000n);
    expect(account?.spentPico).toBeLessThanOrEqual(500_000_000_000n);
  });

  it('keeps the spend of an unchanged budget when the policy reloads, and drops removed ones', async () => {
    const { guard, send, doc } = setup(
      { ...CENT, onExhausted: 'Refuse', limitMicroUsd: 500_000 },
      plain({ input_tokens: 100, output_tokens: 1_000 }),
    );
    await send();
    const weekly = { ...CENT, name: 'weekly', period: 'Week' as const, limitMicroUsd: 900_000 };
    guard.reconfigure({
      ...doc,
      rateLimit: {
        ...doc.rateLimit,
        spend: {
          shareOf: 1,
          timeZone: 'UTC',
          budgets: [{ ...CENT, limitMicroUsd: 600_000 }, weekly],
        },
      },
    });
    expect(guard.budgets.account('daily')?.spentPico).toBe(76_500_000_000n);
    expect(guard.budgets.account('weekly')).toBeUndefined(); // new: from zero, at its first call
    await send();
    expect(guard.budgets.account('daily')?.spentPico).toBe(2n * 76_500_000_000n);
    expect(guard.budgets.account('weekly')?.spentPico).toBe(76_500_000_000n);
    guard.reconfigure({
      ...doc,
      rateLimit: { ...doc.rateLimit, spend: { shareOf: 1, timeZone: 'UTC', budgets: [weekly] } },
    });
    expect(guard.budgets.account('daily')).toBeUndefined();
    expect(guard.budgets.account('weekly')?.spentPico).toBe(76_500_000_000n);
  });

  it('settles after the answer, before anything the process reads next', async () => {
    const { guard, answerOnly } = setup(
      { ...CENT, onExhausted: 'Shadow', limitMicroUsd: 1_000_000 },
      plain({ input_tokens: 10, output_tokens: 20 }),
    );
    await answerOnly();
    // The worst case is still held when the answer is handed back...
    expect(guard.budgets.account('daily')?.spentPico).toBe(0n);
    expect(guard.budgets.account('daily')?.reservedPico).toBeGreaterThan(0n);
    await budgetsSettled();
    // ...and settled at the real usage's price by the next turn of the event loop.
    expect(guard.budgets.account('daily')).toMatchObject({
      spentPico: 10n * 15_000_000n + 20n * 75_000_000n,
      spentTokens: 30n,
      reservedPico: 0n,
    });
  });

  it('settles what is still waiting when it closes, before its store sends its last', async () => {
    const { guard, answerOnly } = setup(
      { ...CENT, onExhausted: 'Shadow', limitMicroUsd: 1_000_000 },
      plain({ input_tokens: 10, output_tokens: 20 }),
    );
    await answerOnly();
    guard.close();
    expect(guard.budgets.account('daily')).toMatchObject({
      spentPico: 10n * 15_000_000n + 20n * 75_000_000n,
      reservedPico: 0n,
    });
    // The turn it was waiting for settles nothing twice.
    await budgetsSettled();
    expect(guard.budgets.account('daily')?.spentPico).toBe(10n * 15_000_000n + 20n * 75_000_000n);
  });

  it('settles a plain answer at its price, cache tokens included', async () => {
    const { guard, send } = setup(
      { ...CENT, onExhausted: 'Shadow', limitMicroUsd: 1_000_000 },
      plain({
        input_tokens: 10,
        output_tokens: 20,
        cache_creation_input_tokens: 1_000,
        cache_read_input_tokens: 10_000,
      }),
    );
    await send();
    // opus: 10 × 15e6 + 20 × 75e6 + 1,000 × 18.75e6 + 10,000 × 1.5e6
    expect(guard.budgets.account('daily')).toMatchObject({
      spentPico: 150_000_000n + 1_500_000_000n + 18_750_000_000n + 15_000_000_000n,
      spentTokens: 11_030n,
      reservedPico: 0n,
    });
  });

  it('settles a streamed answer from its events, cache tokens included', async () => {
    const events = [
      'event: message_start',
      'data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"usage":{"input_tokens":10,"output_tokens":1,"cache_creation_input_tokens":2000,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":2000}}}}',
      '',
      'event: content_block_start',
      'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
      '',
      'event: content_block_delta',
      'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
      '',
      'event: content_block_stop',
      'data: {"type":"content_block_stop","index":0}',
      '',
      'event: message_delta',
      'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":40}}',
      '',
      'event: message_stop',
      'data: {"type":"message_stop"}',
      '',
      '',
    ].join('\n');
    const { guard, send } = setup(
      { ...CENT, onExhausted: 'Shadow', limitMicroUsd: 1_000_000 },
      () => new Response(events, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
    );
    const sink = new Sink();
    const routed = await send(true, sink);
    expect(routed.kind).toBe('stream');
    // opus: 10 × 15e6 + 40 × 75e6 + 2,000 one-hour writes × 30e6
    expect(guard.budgets.account('daily')).toMatchObject({
      spentPico: 150_000_000n + 3_000_000_000n + 60_000_000_000n,
      spentTokens: 2_050n,
      reservedPico: 0n,
    });
    expect(guard.budgets.openReservations).toBe(0);
  });
});
