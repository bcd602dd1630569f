/**
 * The Python `anthropic` SDK, unchanged (its own retries unless a case turns them off),
 * against the runtime: test/clients/anthropic_client.py run in .breakwater/clients-venv
 * (`make clients`). What it did per openAnswer mode is in docs/agents/bring-your-own-agent.md.
 */
import { describe, expect, it } from '@jest/globals';
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
  pythonCase,
  runPythonClient,
  type CaseLine,
  type OpenAnswerMode,
} from '../support/clientRuntimes.ts';

function errorOf(line: CaseLine | undefined): Readonly<Record<string, unknown>> {
  expect(line?.ok).toBe(false);
  return line?.error ?? {};
}

/** What the SDK did at an open breaker with its default two retries, per openAnswer mode. */
const SEEN: Record<OpenAnswerMode, { attempts: number; retryAfter: string | null }> = {
  unset: { attempts: 1, retryAfter: null },
  Bounded: { attempts: 3, retryAfter: '1' },
  Remaining: { attempts: 3, retryAfter: '1' },
};

describe.each(LOCAL_MODES)('in %s mode', (mode) => {
  const suite = clientSuite(mode);

  describe('the Python anthropic SDK through the runtime', () => {
    it('makes a plain, a streamed and a tool-use call, and lists the models', async () => {
      const [plain, stream, tool, models] = await runPythonClient(
        'anthropic',
        ['plain', 'stream', 'tool', 'models'],
        { baseURL: suite.env.keyed.runtime.url },
      );
      expect(plain).toMatchObject({ ok: true, text: 'You said: hello' });
      expect(plain?.request_id).toMatch(RUNTIME_ID);
      expect(stream).toMatchObject({ ok: true, text: 'You said: hello', final: 'You said: hello' });
      expect(tool).toMatchObject({
        ok: true,
        stop_reason: 'tool_use',
        tool: 'get_weather',
        text: 'get_weather returned: sunny',
      });
      expect(models).toMatchObject({ ok: true, ids: [PRIMARY_MODEL] });
    });

    it("raises the provider's mid-stream error as an APIStatusError with the provider's id", async () => {
      await suite.env.sim.setFault(MID_STREAM_ERROR);
      await suite.env.sim.resetStats();
      const error = errorOf(
        await pythonCase('anthropic', 'stream', { baseURL: suite.env.keyed.runtime.url }),
      );
      // The SDK raises a stream's error event as APIStatusError, with the stream's 200.
      expect(error).toMatchObject({
        class: 'APIStatusError',
        status: 200,
        type: 'overloaded_error',
      });
      expect(error.body_request_id).toMatch(PROVIDER_ID);
      expect((await suite.env.sim.stats()).requests).toBe(1);
    });

    it.each([
      ['a wrong key', 401, 'AuthenticationError', 'authentication_error', RUNTIME_ID],
      ["the provider's overload", 529, 'OverloadedError', 'overloaded_error', PROVIDER_ID],
    ])('raises %s as %i %s with the id in e.request_id', async (_name, status, cls, type, id) => {
      if (status === 529) await suite.env.sim.setFault(PROVIDER_OVERLOADED);
      const error = errorOf(
        await pythonCase('anthropic', 'plain', {
          baseURL: suite.env.keyed.runtime.url,
          apiKey: status === 401 ? 'not-a-client-key' : CLIENT_KEY,
          maxRetries: 0,
        }),
      );
      expect(error).toMatchObject({ class: cls, status, type, overloaded: status === 529 });
      expect(error.request_id).toMatch(id);
      expect(error.body_request_id).toBe(error.request_id);
    });

    it("raises the rate limiter's 429 as RateLimitError with the runtime's id", async () => {
      const [first, second] = await runPythonClient('anthropic', ['plain', 'plain'], {
        baseURL: suite.env.limited.runtime.url,
        maxRetries: 0,
      });
      expect(first?.ok).toBe(true);
      const error = errorOf(second);
      expect(error).toMatchObject({
        class: 'RateLimitError',
        status: 429,
        type: 'rate_limit_error',
      });
      expect(error.request_id).toMatch(RUNTIME_ID);
      expect(error.body_request_id).toBe(error.request_id);
    });
  });

  describe('the Python anthropic SDK at an open breaker', () => {
    it.each(OPEN_ANSWER_MODES)(
      'with openAnswer %s raises ServiceUnavailableError after the attempts the mode allows',
      async (answer) => {
        const breaker = await suite.openBreaker(answer);
        await suite.env.sim.resetStats();
        const error = errorOf(
          await pythonCase('anthropic', 'plain', { baseURL: breaker.runtime.url }),
        );
        expect(error).toMatchObject({
          class: 'ServiceUnavailableError',
          status: 503,
          type: 'overloaded_error',
          retry_after: SEEN[answer].retryAfter,
          should_retry: answer === 'unset' ? 'false' : null,
        });
        expect(error.request_id).toMatch(RUNTIME_ID);
        expect(await messagesReceived(breaker)).toBe(SEEN[answer].attempts);
        expect((await suite.env.sim.stats()).requests).toBe(0);
      },
    );
  });
});
