/**
 * LiteLLM as a client (its Python SDK, `litellm.completion` with `anthropic/<model>`),
 * unchanged, against the runtime: test/clients/litellm_client.py run in
 * .breakwater/clients-venv (`make clients`). LiteLLM maps errors to its own (OpenAI-derived)
 * classes and keeps the answer's headers in `litellm_response_headers`; what it did per
 * openAnswer mode is in docs/agents/bring-your-own-agent.md.
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
  type ClientRuntime,
  type OpenAnswerMode,
} from '../support/clientRuntimes.ts';
import { sample } from '../support/standaloneRuntime.ts';

function errorOf(line: CaseLine | undefined): Readonly<Record<string, unknown>> {
  expect(line?.ok).toBe(false);
  return line?.error ?? {};
}

/** What LiteLLM did at an open breaker with its defaults (no retries), per openAnswer mode. */
const SEEN: Record<OpenAnswerMode, { attempts: number; retryAfter: string | null }> = {
  unset: { attempts: 1, retryAfter: null },
  Bounded: { attempts: 1, retryAfter: '1' },
  Remaining: { attempts: 1, retryAfter: '1' },
};

describe.each(LOCAL_MODES)('in %s mode', (mode) => {
  const suite = clientSuite(mode);

  /** The Messages answers `rt` failed with `status`, by its own scrape. */
  async function answeredWith(rt: ClientRuntime, status: number): Promise<number> {
    return sample(await rt.runtime.metrics(), 'agent_requests_failed_total', {
      route: '/v1/messages',
      status: String(status),
    });
  }

  describe('LiteLLM through the runtime', () => {
    it('makes a plain, a streamed and a tool-use call, and lists the models', async () => {
      const [plain, stream, tool, models] = await runPythonClient(
        'litellm',
        ['plain', 'stream', 'tool', 'models'],
        { baseURL: suite.env.keyed.runtime.url },
      );
      expect(plain).toMatchObject({ ok: true, text: 'You said: hello' });
      expect(plain?.request_id).toMatch(RUNTIME_ID);
      expect(stream).toMatchObject({ ok: true, text: 'You said: hello' });
      expect(tool).toMatchObject({
        ok: true,
        stop_reason: 'tool_calls',
        tool: 'get_weather',
        text: 'get_weather returned: sunny',
      });
      expect(models).toMatchObject({ ok: true, ids: [`anthropic/${PRIMARY_MODEL}`] });
    });

    it("raises the provider's mid-stream error as MidStreamFallbackError, without a retry", async () => {
      await suite.env.sim.setFault(MID_STREAM_ERROR);
      await suite.env.sim.resetStats();
      const error = errorOf(
        await pythonCase('litellm', 'stream', { baseURL: suite.env.keyed.runtime.url }),
      );
      expect(error).toMatchObject({ class: 'MidStreamFallbackError', status: 500 });
      expect(error.message).toContain('overloaded_error');
      expect((await suite.env.sim.stats()).requests).toBe(1);
    });

    it.each([
      ['a wrong key', 401, 'AuthenticationError', 401, RUNTIME_ID],
      // LiteLLM raises every overloaded_error as its InternalServerError (500), the 529 beside.
      ["the provider's overload", 529, 'InternalServerError', 500, PROVIDER_ID],
    ])(
      'raises %s (%i) as %s, the id in its response headers, none in e.request_id',
      async (_name, status, cls, litellmStatus, id) => {
        if (status === 529) await suite.env.sim.setFault(PROVIDER_OVERLOADED);
        const answered = () => answeredWith(suite.env.keyed, status);
        const before = await answered();
        const error = errorOf(
          await pythonCase('litellm', 'plain', {
            baseURL: suite.env.keyed.runtime.url,
            apiKey: status === 401 ? 'not-a-client-key' : CLIENT_KEY,
          }),
        );
        expect(error).toMatchObject({ class: cls, status: litellmStatus, request_id: null });
        if (status === 529) expect(error.provider_status).toBe(529);
        expect(error.header_request_id).toMatch(id);
        // LiteLLM names the error by its type before its status: the runtime's own count says
        // which status it answered (a 502 or 503 with overloaded_error would read the same).
        expect((await answered()) - before).toBe(1);
      },
    );

    it("raises the rate limiter's 429 as RateLimitError, the runtime's id in its headers", async () => {
      const [first, second] = await runPythonClient('litellm', ['plain', 'plain'], {
        baseURL: suite.env.limited.runtime.url,
      });
      expect(first?.ok).toBe(true);
      const error = errorOf(second);
      expect(error).toMatchObject({ class: 'RateLimitError', status: 429, request_id: null });
      expect(error.header_request_id).toMatch(RUNTIME_ID);
    });
  });

  describe('LiteLLM at an open breaker', () => {
    it.each(OPEN_ANSWER_MODES)(
      'with openAnswer %s raises InternalServerError after the attempts it makes by default',
      async (answer) => {
        const breaker = await suite.openBreaker(answer);
        await suite.env.sim.resetStats();
        const error = errorOf(
          await pythonCase('litellm', 'plain', { baseURL: breaker.runtime.url }),
        );
        // The runtime's 503 says overloaded_error, which LiteLLM maps before the status.
        expect(error).toMatchObject({
          class: 'InternalServerError',
          status: 500,
          provider_status: 529,
          retry_after: SEEN[answer].retryAfter,
          should_retry: answer === 'unset' ? 'false' : null,
        });
        expect(error.header_request_id).toMatch(RUNTIME_ID);
        expect(await messagesReceived(breaker)).toBe(SEEN[answer].attempts);
        expect((await suite.env.sim.stats()).requests).toBe(0);
      },
    );
  });
});
