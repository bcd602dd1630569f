/**
 * What a caller is told while a breaker refuses, seen through the real @anthropic-ai/sdk
 * (CircuitBreakerPolicy spec.openAnswer): by default the SDK gives up on the first answer;
 * with Remaining it sleeps on Retry-After and retries. Counted by the requests the runtime
 * received, not by time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import type { BreakerSettings } from '../../contract/src/policy/policyDocument.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';

const MESSAGES = '/v1/messages';
const SDK_RETRIES = 2;

let sim: SimulatorHandle;
let running: StandaloneRuntime | undefined;

/** A runtime whose breaker is forced open, answering as `openRetryAfter` says. */
async function forcedOpen(
  openRetryAfter: BreakerSettings['openRetryAfter'],
): Promise<StandaloneRuntime> {
  running = await standaloneRuntime(
    policyDocument(sim.url, (d) => {
      // The shortest open time, so Remaining's Retry-After is one second per retry.
      d.circuitBreaker.openDurationMs = 1_000;
      d.circuitBreaker.openRetryAfter = openRetryAfter;
      d.circuitBreaker.override = { state: 'ForcedOpen', reason: 'INC-52: provider down' };
    }),
  );
  return running;
}

/** One SDK call, plain or streamed; resolves with the error it ended with. */
async function callUntilItGivesUp(rt: StandaloneRuntime, stream: boolean): Promise<unknown> {
  const client = new Anthropic({
    baseURL: rt.runtime.url,
    apiKey: 'unused',
    maxRetries: SDK_RETRIES,
  });
  const params = {
    model: PRIMARY_MODEL,
    max_tokens: 16,
    messages: [{ role: 'user' as const, content: 'hello' }],
  };
  try {
    if (stream) await client.messages.stream(params).finalMessage();
    else await client.messages.create(params);
  } catch (e: unknown) {
    return e;
  }
  throw new Error('the call succeeded through a forced-open breaker');
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 52 });
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

afterAll(async () => {
  await sim.stop();
});

describe('an open breaker', () => {
  it.each([
    ['a plain call', false],
    ['a streamed call', true],
  ])(
    'by default makes the SDK give up at once on %s: 503 overloaded_error, no retry',
    async (_name, stream) => {
      const rt = await forcedOpen('None');
      const err = await callUntilItGivesUp(rt, stream);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      const api = err as InstanceType<typeof Anthropic.APIError>;
      expect(api.status).toBe(503);
      expect(api.headers?.get('x-should-retry')).toBe('false');
      expect(api.headers?.get('retry-after')).toBeNull();
      const scrape = await rt.runtime.metrics();
      expect(sample(scrape, 'agent_requests_total', { route: MESSAGES })).toBe(1);
      expect((await sim.stats()).requests).toBe(0);
    },
  );

  it("by default answers the bundled agent's /v1/agent/invoke the same way", async () => {
    const rt = await forcedOpen('None');
    const response = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
      method: 'POST',
      signal: AbortSignal.timeout(20_000),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'hello' }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('x-should-retry')).toBe('false');
    expect(response.headers.get('retry-after')).toBeNull();
    expect(await response.json()).toMatchObject({ error: { type: 'overloaded_error' } });
  });

  it('with Remaining makes the SDK wait and retry as many times as it may', async () => {
    const rt = await forcedOpen('Remaining');
    const err = await callUntilItGivesUp(rt, false);
    const api = err as InstanceType<typeof Anthropic.APIError>;
    expect(api.status).toBe(503);
    expect(api.headers?.get('retry-after')).toBe('1');
    const scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'agent_requests_total', { route: MESSAGES })).toBe(1 + SDK_RETRIES);
    expect((await sim.stats()).requests).toBe(0);
  });
});
