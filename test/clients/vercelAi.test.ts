/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/anthropic`), unchanged (its own two retries unless a
 * case turns them off), against the runtime. It has no models list for Anthropic. It retries
 * every 5xx, x-should-retry or not; what it did per openAnswer
 * mode is in docs/agents/bring-your-own-agent.md.
 */
import { describe, expect, it } from '@jest/globals';
import { RetryError, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createAnthropic } from '@ai-sdk/anthropic';
import {
  CLIENT_KEY,
  MID_STREAM_ERROR,
  OPEN_ANSWER_MODES,
  PRIMARY_MODEL,
  PROVIDER_ID,
  PROVIDER_OVERLOADED,
  RUNTIME_ID,
  LOCAL_MODES,
  clientSuite,
  messagesReceived,
  type OpenAnswerMode,
  type ClientRuntime,
} from '../support/clientRuntimes.ts';
import { apiCallError, failure } from '../support/clientErrors.ts';

/** The provider's model at `rt`: the SDK's base URL ends in /v1. */
function model(rt: ClientRuntime, apiKey = CLIENT_KEY) {
  return createAnthropic({ baseURL: `${rt.runtime.url}/v1`, apiKey })(PRIMARY_MODEL);
}

/** What the SDK did at an open breaker with its default two retries, per openAnswer mode. */
const SEEN: Record<OpenAnswerMode, { attempts: number; retryAfter: string | undefined }> = {
  // It ignores x-should-retry: false and retries the 503 on its own backoff (2 s, 4 s).
  unset: { attempts: 3, retryAfter: undefined },
  Bounded: { attempts: 3, retryAfter: '1' },
  Remaining: { attempts: 3, retryAfter: '1' },
};

describe.each(LOCAL_MODES)('in %s mode', (mode) => {
  const suite = clientSuite(mode);

  describe('the Vercel AI SDK through the runtime', () => {
    it('makes a plain call', async () => {
      const result = await generateText({ model: model(suite.env.keyed), prompt: 'hello' });
      expect(result.text).toBe('You said: hello');
      expect(result.finalStep.response.headers?.['request-id']).toMatch(RUNTIME_ID);
    });

    it('makes a streamed call', async () => {
      expect(await streamText({ model: model(suite.env.keyed), prompt: 'hello' }).text).toBe(
        'You said: hello',
      );
    });

    it('makes a tool-use round', async () => {
      const result = await generateText({
        model: model(suite.env.keyed),
        prompt: 'use tool get_weather for Paris',
        tools: {
          get_weather: tool({
            description: 'The weather in a city',
            inputSchema: jsonSchema<{ city: string }>({
              type: 'object',
              properties: { city: { type: 'string' } },
              required: ['city'],
            }),
            execute: () => Promise.resolve('sunny'),
          }),
        },
        stopWhen: stepCountIs(2),
      });
      expect(result.steps[0]?.toolCalls.map((call) => call.toolName)).toEqual(['get_weather']);
      expect(result.text).toBe('get_weather returned: sunny');
    });

    it("ends a stream on the provider's mid-stream error with an error part, without a retry", async () => {
      await suite.env.sim.setFault(MID_STREAM_ERROR);
      await suite.env.sim.resetStats();
      const stream = streamText({
        model: model(suite.env.keyed),
        prompt: 'hello',
        onError: () => undefined,
      });
      const parts: { type: string; error?: unknown }[] = [];
      for await (const part of stream.stream) parts.push(part);
      const types = parts.map((part) => part.type);
      expect(types).toContain('text-delta');
      expect(types.indexOf('error')).toBeGreaterThan(types.indexOf('text-delta'));
      expect(parts.find((part) => part.type === 'error')?.error).toMatchObject({
        type: 'overloaded_error',
        statusCode: 529,
      });
      expect((await suite.env.sim.stats()).requests).toBe(1);
    });

    it.each([
      ['a wrong key', 401, RUNTIME_ID],
      ["the provider's overload", 529, PROVIDER_ID],
      ["the rate limiter's refusal", 429, RUNTIME_ID],
    ])(
      'raises %s as an APICallError %i, the id in its response headers',
      async (_n, status, id) => {
        if (status === 529) await suite.env.sim.setFault(PROVIDER_OVERLOADED);
        const rt = status === 429 ? suite.env.limited : suite.env.keyed;
        if (status === 429)
          await generateText({ model: model(rt), prompt: 'hello', maxRetries: 0 });
        const apiKey = status === 401 ? 'not-a-client-key' : CLIENT_KEY;
        const error = apiCallError(
          await failure(generateText({ model: model(rt, apiKey), prompt: 'hello', maxRetries: 0 })),
        );
        expect(error.statusCode).toBe(status);
        expect(error.isRetryable).toBe(status !== 401);
        expect(error.responseHeaders?.['request-id']).toMatch(id);
      },
    );
  });

  describe('the Vercel AI SDK at an open breaker', () => {
    it.each(OPEN_ANSWER_MODES)(
      'with openAnswer %s gives up with a RetryError of 503s after the attempts it makes',
      async (answer) => {
        const breaker = await suite.openBreaker(answer);
        await suite.env.sim.resetStats();
        const error = await failure(generateText({ model: model(breaker), prompt: 'hello' }));
        expect(RetryError.isInstance(error)).toBe(true);
        const last = apiCallError(error);
        expect(last.statusCode).toBe(503);
        expect(last.responseHeaders?.['retry-after']).toBe(SEEN[answer].retryAfter);
        expect(last.responseHeaders?.['x-should-retry']).toBe(
          answer === 'unset' ? 'false' : undefined,
        );
        expect(last.responseHeaders?.['request-id']).toMatch(RUNTIME_ID);
        expect(await messagesReceived(breaker)).toBe(SEEN[answer].attempts);
        expect((await suite.env.sim.stats()).requests).toBe(0);
      },
    );
  });
});
