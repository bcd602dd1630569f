/**
 * The simulator's log of what it billed (`GET /_sim/usage`), read by the real SDK's client
 * against a simulator process with production pacing: complete answers, streams cut by their
 * client or by a fault, and a plain call whose caller left.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { waitFor } from '../support/waitFor.ts';

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({ seed: 50, latencyMs: 200 });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(async () => {
  await sim.clearFaults();
  await sim.resetBilled();
});

const client = () => new Anthropic({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
const request = {
  model: 'claude-sonnet-4-5',
  max_tokens: 512,
  messages: [{ role: 'user' as const, content: 'Tell me about the tides. '.repeat(8) }],
};

async function oneBilled(from: SimulatorHandle = sim) {
  return waitFor(
    async () => {
      const [call] = await from.billed();
      return call;
    },
    { description: 'a billed call', timeoutMs: 5_000 },
  );
}

describe('what the simulator bills', () => {
  it("bills a complete answer its usage, the tool-use system prompt, searches and their results' input included", async () => {
    const answer = await client().messages.create({
      ...request,
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    });
    const call = await oneBilled();
    expect(call).toMatchObject({ ending: 'complete', stream: false });
    expect(call.usage.input_tokens).toBe(answer.usage.input_tokens);
    expect(call.usage.server_tool_use?.web_search_requests).toBe(2);
    const { max_tokens: _unused, ...counted } = request;
    const plain = await client().messages.countTokens(counted);
    const withTool = await client().messages.countTokens({
      ...counted,
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    });
    // The tool-use system prompt, and two searches' results at 2,000 input tokens each
    expect(answer.usage.input_tokens - plain.input_tokens).toBe(346 + 2 * 2_000);
    expect(answer.usage.input_tokens - withTool.input_tokens).toBe(2 * 2_000);
  });

  it("counts a stream's search results in message_delta's input, not in message_start's", async () => {
    const stream = client().messages.stream({
      ...request,
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    });
    let started: number | undefined;
    for await (const event of stream)
      if (event.type === 'message_start') started = event.message.usage.input_tokens;
    const final = await stream.finalMessage();
    expect(final.usage.input_tokens - (started ?? 0)).toBe(2 * 2_000);
    expect((await oneBilled()).usage.input_tokens).toBe(final.usage.input_tokens);
  });

  it('bills a stream its client hangs up on at content_block_stop all of its output', async () => {
    // Half a second (±50 %) between events, so the hang-up lands before message_delta even on a
    // loaded machine: at the default 8 ms a CI run's client read on past content_block_stop
    // and the stream completed. A short answer keeps the pauses few.
    const slow = await startSimulator({ seed: 51, latencyMs: 200, eventGapMs: 500 });
    try {
      const short = { ...request, max_tokens: 16 };
      const slowClient = new Anthropic({ baseURL: slow.url, apiKey: 'test', maxRetries: 0 });
      const full = await slowClient.messages.create(short);
      await slow.resetBilled();
      const stream = slowClient.messages.stream(short);
      for await (const event of stream) {
        if (event.type === 'content_block_stop') {
          stream.controller.abort();
          break;
        }
      }
      const call = await oneBilled(slow);
      expect(call).toMatchObject({ ending: 'client_cut', stream: true });
      expect(call.usage.output_tokens).toBe(full.usage.output_tokens);
    } finally {
      await slow.stop();
    }
  });

  it('bills a stream a fault cuts after content began its input and the output sent', async () => {
    const full = await client().messages.create(request);
    await sim.resetBilled();
    await sim.setFault({ drop: true, inStream: 'after-content', count: 1 });
    await client()
      .messages.stream(request)
      .finalMessage()
      .catch(() => undefined);
    const call = await oneBilled();
    expect(call.ending).toBe('provider_cut');
    expect(call.usage.input_tokens).toBe(full.usage.input_tokens);
    expect(call.usage.output_tokens).toBeGreaterThan(0);
    expect(call.usage.output_tokens).toBeLessThan(full.usage.output_tokens);
  });

  it('bills a plain answer whose caller left before it began in full', async () => {
    const controller = new AbortController();
    const call = client()
      .messages.create(request, { signal: controller.signal })
      .catch(() => undefined);
    setTimeout(() => {
      controller.abort();
    }, 50);
    await call;
    const billed = await oneBilled();
    expect(billed).toMatchObject({ ending: 'client_left', stream: false });
    expect(billed.usage.output_tokens).toBeGreaterThan(1);
  });

  it("names the caller's trace on each bill, so a gateway's attempts can be matched to its caller", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await client().messages.create(request, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(await oneBilled()).toMatchObject({ traceId, ending: 'complete' });
    await sim.resetBilled();
    await client().messages.create(request);
    expect((await oneBilled()).traceId).toBeUndefined();
  });
});
