/**
 * A PDF under a dollar budget (M16): three real runtime processes with their budgets in a real
 * redis-server, the simulator behind them keeping its log of what it billed, and the real SDK
 * (no retries) as the client. A document that is not text has no bound on its tokens, so a
 * budget that refuses refuses it before any provider call, saying to send its text as a text
 * document; a Shadow budget lets it go and counts what it cost.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { settledAndBilled } from '../support/billedSettlement.ts';
import { budgetAgent, sdk, type BudgetAgent } from '../support/budgetStoreFixture.ts';
import { PRIMARY_MODEL } from '../support/standaloneRuntime.ts';

/** The smallest PDF worth the name, in base64: the bytes are never read by the simulator. */
const PDF_BASE64 = Buffer.from('%PDF-1.4\n%%EOF\n').toString('base64');

/** A PDF sent each way the Messages API takes one. */
const PDFS = [
  ['in base64', { type: 'base64', media_type: 'application/pdf', data: PDF_BASE64 }],
  ['by URL', { type: 'url', url: 'https://example.com/tides.pdf' }],
  ['by file_id', { type: 'file', file_id: 'file_011CNha8iCJcU1wXNR6q4V8w' }],
] as const;

/** A question about a document whose `source` is `source`. */
function askingAbout(source: (typeof PDFS)[number][1]): Anthropic.MessageCreateParamsNonStreaming {
  // A file by id is a beta shape the SDK's plain types leave out; the runtime reads it alike.
  const document = { type: 'document', source } as unknown as Anthropic.DocumentBlockParam;
  return {
    model: PRIMARY_MODEL,
    max_tokens: 64,
    messages: [
      { role: 'user', content: [document, { type: 'text', text: 'What does it say of tides?' }] },
    ],
  };
}

describe('a PDF under a dollar budget that refuses', () => {
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({ spec: { budgets: [{ name: 'daily', period: 'Day', usd: '1' }] } });
  });
  afterAll(async () => {
    await s.stop();
  });

  it.each(PDFS)(
    'sent %s is refused with 400 saying to send its text as a text document, before any provider call',
    async (_how, source) => {
      await s.sim.resetBilled();
      await s.sim.resetStats();
      const refused = await sdk(s.urls[0] ?? '')
        .messages.create(askingAbout(source))
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
      const error = (refused as InstanceType<typeof Anthropic.BadRequestError>).error as {
        error?: { type?: string; message?: string };
      };
      expect(error.error?.type).toBe('invalid_request_error');
      expect(error.error?.message).toMatch(/send its text as a text document/);
      expect(await s.sim.billed()).toEqual([]);
      expect((await s.sim.stats()).requests).toBe(0);
      // Nothing reserved, nothing spent.
      for (const account of await s.accounts()) {
        expect(account.spentPico).toBe(0n);
        expect(account.reservedPico).toBe(0n);
      }
    },
  );
});

describe('a PDF under a Shadow dollar budget', () => {
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '1', onExhausted: 'Shadow' }] },
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it.each(PDFS)('sent %s goes, and what it cost is counted', async (_how, source) => {
    let answer: Anthropic.Message | undefined;
    const { settled, billed, log } = await settledAndBilled(s, 1, async () => {
      answer = await sdk(s.urls[0] ?? '').messages.create(askingAbout(source));
    });
    expect(answer?.type).toBe('message');
    expect(log).toHaveLength(1);
    expect(billed).toBeGreaterThan(0n);
    expect(settled).toBeGreaterThanOrEqual(billed);
  });
});
