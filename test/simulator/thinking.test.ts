/**
 * Extended thinking as the real SDK (no retries) reads it from a simulator process with
 * production pacing: a summarised, signed thinking block before the text, streamed and plain,
 * billed (in the answer's usage and in the simulator's own log) for more output than the
 * summary it relays; and a request whose thinking budget leaves no room refused as the API
 * refuses it.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { waitFor } from '../support/waitFor.ts';

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({ seed: 59, latencyMs: 50 });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(async () => {
  await sim.resetBilled();
});

const client = () => new Anthropic({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
const request = {
  model: 'claude-sonnet-4-6',
  max_tokens: 2048,
  thinking: { type: 'enabled' as const, budget_tokens: 1024 },
  messages: [{ role: 'user' as const, content: 'Tell me about the tides. '.repeat(4) }],
};

/** Tokens at four characters each: what the summary would bill if it were all the thinking. */
const tokensOf = (text: string) => Math.ceil(text.length / 4);

async function billedOutput(): Promise<number> {
  const [call] = await waitFor(async () => (await sim.billed()).length === 1 && sim.billed(), {
    description: 'the call billed',
    timeoutMs: 5_000,
  });
  return call?.usage.output_tokens ?? 0;
}

describe('extended thinking through the SDK', () => {
  it('streams a thinking block of several deltas and a signature before the text, billed past its summary', async () => {
    const stream = client().messages.stream(request);
    const deltas: string[] = [];
    for await (const event of stream)
      if (event.type === 'content_block_delta') deltas.push(event.delta.type);
    const message = await stream.finalMessage();
    const [thinking, text] = message.content;
    if (thinking?.type !== 'thinking' || text?.type !== 'text') throw new Error('no thinking');
    expect(deltas.filter((d) => d === 'thinking_delta').length).toBeGreaterThan(2);
    expect(deltas.indexOf('signature_delta')).toBe(deltas.lastIndexOf('thinking_delta') + 1);
    expect(thinking.signature.length).toBeGreaterThan(0);
    expect(text.text).toBe(`You said: ${request.messages[0]?.content ?? ''}`);
    const relayed = tokensOf(thinking.thinking) + tokensOf(text.text);
    expect(message.usage.output_tokens).toBeGreaterThan(2 * relayed);
    expect(message.usage.output_tokens).toBeLessThanOrEqual(request.max_tokens);
    expect(await billedOutput()).toBe(message.usage.output_tokens);
  });

  it('answers plainly with the same signed thinking block and usage', async () => {
    const message = await client().messages.create(request);
    const [thinking] = message.content;
    if (thinking?.type !== 'thinking') throw new Error('no thinking');
    expect(thinking.signature.length).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(2 * tokensOf(thinking.thinking));
    expect(await billedOutput()).toBe(message.usage.output_tokens);
  });

  it('bills a stream cut after the signature all of its thinking, more than was relayed', async () => {
    const stream = client().messages.stream(request);
    let summary = '';
    try {
      for await (const event of stream) {
        if (event.type !== 'content_block_delta') continue;
        if (event.delta.type === 'thinking_delta') summary += event.delta.thinking;
        if (event.delta.type === 'signature_delta') {
          stream.controller.abort();
          break;
        }
      }
    } catch {
      // the abort, as the SDK reports it
    }
    const [call] = await waitFor(async () => (await sim.billed()).length === 1 && sim.billed(), {
      description: 'the cut call billed',
      timeoutMs: 5_000,
    });
    expect(call?.ending).toBe('client_cut');
    expect(call?.usage.output_tokens ?? 0).toBeGreaterThan(4 * tokensOf(summary));
  });

  it('refuses budget_tokens not under max_tokens with the API invalid_request_error', async () => {
    const refused = await client()
      .messages.create({ ...request, max_tokens: 1024 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    const error = refused as InstanceType<typeof Anthropic.BadRequestError>;
    expect(error.error).toMatchObject({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: expect.stringMatching(
          /^`max_tokens` must be greater than `thinking.budget_tokens`/,
        ),
      },
    });
  });
});
