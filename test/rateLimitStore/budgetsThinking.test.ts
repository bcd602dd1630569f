/**
 * Streams with extended thinking under a dollar budget, cut by their client: three real runtime
 * processes with their budget in a real redis-server, the simulator behind them streaming a
 * summarised thinking block (billed in full, more than it relays) before the text, and the real
 * SDK (no retries) hanging up at one event boundary after another. What each cut call settles
 * is held to what the simulator billed for it, and the budget to its limit (guarantees M3).
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { parseMoney } from '../../contract/src/spend/money.ts';
import { billedPico, settledAccount, settledAndBilled } from '../support/billedSettlement.ts';
import { budgetAgent, sdk, type BudgetAgent } from '../support/budgetStoreFixture.ts';
import { PRIMARY_MODEL } from '../support/standaloneRuntime.ts';

const thinkingRequest = {
  model: PRIMARY_MODEL,
  max_tokens: 2048,
  thinking: { type: 'enabled' as const, budget_tokens: 1024 },
  messages: [
    {
      role: 'user' as const,
      content: 'Tell me about the sea, its tides and its weather. '.repeat(3),
    },
  ],
};

/** Where in a thinking stream the client hangs up: after the event this picks (with its place). */
type CutAfter = (event: MessageStreamEvent, seen: readonly MessageStreamEvent[]) => boolean;

const deltaType = (event: MessageStreamEvent) =>
  event.type === 'content_block_delta' ? event.delta.type : undefined;
const count = (seen: readonly MessageStreamEvent[], type: string) =>
  seen.filter((e) => deltaType(e) === type).length;
const blockStart =
  (type: string): CutAfter =>
  (e) =>
    e.type === 'content_block_start' && e.content_block.type === type;
const blockStop =
  (index: number): CutAfter =>
  (e) =>
    e.type === 'content_block_stop' && e.index === index;

const CUTS: readonly (readonly [string, CutAfter])[] = [
  ['the thinking block start', blockStart('thinking')],
  ['the first thinking_delta', (e) => deltaType(e) === 'thinking_delta'],
  [
    'the third thinking_delta, inside the thinking',
    (e, seen) => deltaType(e) === 'thinking_delta' && count(seen, 'thinking_delta') === 3,
  ],
  ['the signature_delta', (e) => deltaType(e) === 'signature_delta'],
  ['the thinking block stop', blockStop(0)],
  ['the text block start', blockStart('text')],
  [
    'the second text_delta, inside the text',
    (e, seen) => deltaType(e) === 'text_delta' && count(seen, 'text_delta') === 2,
  ],
  ['the text block stop', blockStop(1)],
  ['message_delta', (e) => e.type === 'message_delta'],
];

/** Streams the thinking request and hangs up after the event `cut` picks; answers whether it did. */
async function streamThinkingUntil(url: string, cut: CutAfter): Promise<boolean> {
  const stream = sdk(url).messages.stream(thinkingRequest);
  const seen: MessageStreamEvent[] = [];
  try {
    for await (const event of stream) {
      seen.push(event);
      if (cut(event, seen)) {
        stream.controller.abort();
        return true;
      }
    }
  } catch {
    // the abort, as the SDK reports it
  }
  return false;
}

describe('a thinking stream its client hangs up on, under a dollar budget', () => {
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '1' }] },
      sim: { latencyMs: 300 },
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it.each(CUTS)(
    'settles one cut after %s at no less than the provider billed',
    async (_name, cut) => {
      let hungUp = false;
      const { settled, billed, log } = await settledAndBilled(s, 1, async () => {
        hungUp = await streamThinkingUntil(s.urls[0] ?? '', cut);
      });
      expect(hungUp).toBe(true);
      expect(log.map((c) => c.stream)).toEqual([true]);
      // Cut after message_delta, the provider may have written its last event before noticing.
      expect(['client_cut', 'complete']).toContain(log[0]?.ending);
      expect(billed).toBeGreaterThan(0n);
      expect(settled).toBeGreaterThanOrEqual(billed);
    },
  );
});

describe('thinking streams cut after their signature, under a tight dollar budget', () => {
  const LIMIT_USD = '0.1';
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: LIMIT_USD }] },
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('never settles past the budget, cut one after another until refused, nor less than billed', async () => {
    const cut: CutAfter = (e) => deltaType(e) === 'signature_delta';
    let refusal: unknown;
    let cuts = 0;
    for (let i = 0; i < 20 && refusal === undefined; i++) {
      const stream = sdk(s.urls[i % 3] ?? '').messages.stream(thinkingRequest);
      try {
        for await (const event of stream)
          if (cut(event, [])) {
            cuts++;
            stream.controller.abort();
            break;
          }
      } catch (error) {
        if (error instanceof Anthropic.RateLimitError) refusal = error;
      }
    }
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    expect(cuts).toBeGreaterThan(1);
    const account = await settledAccount(s);
    const billed = billedPico(await s.sim.billed());
    expect(account.spentPico).toBeGreaterThanOrEqual(billed);
    expect(account.spentPico).toBeLessThanOrEqual(parseMoney(LIMIT_USD));
  });
});
