/**
 * LangChain JS (`@langchain/anthropic`'s ChatAnthropic), unchanged, against the runtime. It
 * turns its own Anthropic SDK's retries off and retries in its AsyncCaller: six times by
 * default, on its own backoff (1 s doubling), reading `retry-after` only on a 429 and never
 * `x-should-retry`. Its errors are its bundled @anthropic-ai/sdk's. It has no models list. What
 * it did per openAnswer mode is in docs/agents/bring-your-own-agent.md.
 */
import { describe, expect, it } from '@jest/globals';
import { ChatAnthropic } from '@langchain/anthropic';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
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
  type ClientRuntime,
} from '../support/clientRuntimes.ts';

function chat(rt: ClientRuntime, options: { apiKey?: string; maxRetries?: number } = {}) {
  return new ChatAnthropic({
    model: PRIMARY_MODEL,
    anthropicApiUrl: rt.runtime.url,
    apiKey: options.apiKey ?? CLIENT_KEY,
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
}

/** The bundled SDK's error, as LangChain rethrows it. */
interface SdkError {
  readonly name: string;
  readonly status: number | undefined;
  readonly requestID: string | null | undefined;
  readonly headers: Headers | undefined;
  readonly error: unknown;
}

async function failure(call: Promise<unknown>): Promise<SdkError> {
  return call.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: unknown) => {
      const error = e as SdkError & { constructor: { name: string } };
      return { ...error, name: error.constructor.name };
    },
  );
}

async function streamedText(model: ChatAnthropic): Promise<string> {
  let text = '';
  for await (const chunk of await model.stream('hello')) text += chunk.text;
  return text;
}

/**
 * Its default six retries back off 1 to 32 s (63 to 126 s in all) whatever the answer says,
 * longer than a test may take: two here, which shows the same thing.
 */
const RETRIES = 2;

describe.each(LOCAL_MODES)('in %s mode', (mode) => {
  const suite = clientSuite(mode);

  describe('LangChain JS through the runtime', () => {
    it('makes a plain call', async () => {
      const message = await chat(suite.env.keyed).invoke('hello');
      expect(message.content).toBe('You said: hello');
    });

    it('makes a streamed call', async () => {
      expect(await streamedText(chat(suite.env.keyed))).toBe('You said: hello');
    });

    it('makes a tool-use round', async () => {
      const model = chat(suite.env.keyed).bindTools([
        {
          name: 'get_weather',
          description: 'The weather in a city',
          schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      ]);
      const question = new HumanMessage('use tool get_weather for Paris');
      const call = await model.invoke([question]);
      const toolCall = call.tool_calls?.[0];
      expect(toolCall?.name).toBe('get_weather');
      const answer = await model.invoke([
        question,
        call,
        new ToolMessage({ tool_call_id: toolCall?.id ?? '', content: 'sunny' }),
      ]);
      expect(answer.content).toBe('get_weather returned: sunny');
    });

    it("throws the provider's mid-stream error as the SDK's APIError, without a retry", async () => {
      await suite.env.sim.setFault(MID_STREAM_ERROR);
      await suite.env.sim.resetStats();
      const error = await failure(streamedText(chat(suite.env.keyed)));
      expect(error).toMatchObject({
        name: 'APIError',
        error: { error: { type: 'overloaded_error' } },
      });
      expect(error.requestID).toMatch(RUNTIME_ID);
      expect((await suite.env.sim.stats()).requests).toBe(1);
    });

    it.each([
      ['a wrong key', 401, 'AuthenticationError', RUNTIME_ID],
      // Its bundled SDK predates OverloadedError: a 529 is an InternalServerError there.
      ["the provider's overload", 529, 'InternalServerError', PROVIDER_ID],
      ["the rate limiter's refusal", 429, 'RateLimitError', RUNTIME_ID],
    ])('throws %s as %i %s with the id in e.requestID', async (_name, status, cls, id) => {
      if (status === 529) await suite.env.sim.setFault(PROVIDER_OVERLOADED);
      const rt = status === 429 ? suite.env.limited : suite.env.keyed;
      if (status === 429) await chat(rt, { maxRetries: 0 }).invoke('hello');
      const apiKey = status === 401 ? 'not-a-client-key' : CLIENT_KEY;
      const error = await failure(chat(rt, { apiKey, maxRetries: 0 }).invoke('hello'));
      expect(error).toMatchObject({ name: cls, status });
      expect(error.requestID).toMatch(id);
    });
  });

  describe('LangChain JS at an open breaker', () => {
    it.each(OPEN_ANSWER_MODES)(
      'with openAnswer %s retries the 503 on its own backoff, as many times as it may',
      async (answer) => {
        const breaker = await suite.openBreaker(answer);
        await suite.env.sim.resetStats();
        const error = await failure(chat(breaker, { maxRetries: RETRIES }).invoke('hello'));
        expect(error).toMatchObject({ name: 'InternalServerError', status: 503 });
        expect(error.headers?.get('x-should-retry') ?? null).toBe(
          answer === 'unset' ? 'false' : null,
        );
        expect(error.headers?.get('retry-after') ?? null).toBe(answer === 'unset' ? null : '1');
        expect(error.requestID).toMatch(RUNTIME_ID);
        expect(await messagesReceived(breaker)).toBe(1 + RETRIES);
        expect((await suite.env.sim.stats()).requests).toBe(0);
      },
    );
  });
});
