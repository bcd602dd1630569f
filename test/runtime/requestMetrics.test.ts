/**
 * The request and model-call metrics of docs/monitoring.md, read from a runtime process in
 * front of the simulator: `agent_llm_tokens` and `agent_fallbacks_total` for the bundled
 * agent's calls as for `/v1/messages`, and `agent_requests_total` with
 * `agent_requests_failed_total` counting every answered request once, whatever part of the
 * runtime answered it (a refused body, the JSON parser, the drain after SIGTERM).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  FALLBACK_MODEL,
  PRIMARY_MODEL,
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const INVOKE = '/v1/agent/invoke';
const MESSAGES = '/v1/messages';

interface InvokeAnswer {
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  fallbackUsed: boolean;
}

let sim: SimulatorHandle;
let running: StandaloneRuntime | undefined;

async function start(...args: Parameters<typeof policyDocument>): Promise<StandaloneRuntime> {
  running = await standaloneRuntime(policyDocument(...args));
  return running;
}

/** A POST with `body` sent as it is (a string need not be JSON). */
function post(
  rt: StandaloneRuntime,
  route: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${rt.runtime.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
}

const message = {
  model: PRIMARY_MODEL,
  max_tokens: 16,
  messages: [{ role: 'user', content: 'hi' }],
};

beforeAll(async () => {
  sim = await startSimulator({ seed: 11 });
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await sim.clearFaults();
});

afterAll(async () => {
  await sim.stop();
});

describe('the bundled agent’s model calls', () => {
  it('are each observed in agent_llm_tokens, as the provider reported their tokens', async () => {
    const rt = await start(sim.url);
    const passedThrough = await post(rt, MESSAGES, message);
    expect(passedThrough.status).toBe(200);
    const messageUsage = ((await passedThrough.json()) as Pick<InvokeAnswer, 'usage'>).usage;
    const response = await post(rt, INVOKE, { input: 'Say hello.' });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as InvokeAnswer;
    const scrape = await rt.runtime.metrics();
    // The Messages call, then each of the agent's turns: one observation per model call.
    const calls = sample(scrape, 'agent_llm_attempts_total', { outcome: 'Success' });
    expect(calls).toBeGreaterThan(1);
    for (const direction of ['input', 'output'] as const) {
      const labels = { model: PRIMARY_MODEL, direction };
      expect(sample(scrape, 'agent_llm_tokens_count', labels)).toBe(calls);
      expect(sample(scrape, 'agent_llm_tokens_sum', labels)).toBe(
        messageUsage[`${direction}_tokens`] + answer.usage[`${direction}_tokens`],
      );
    }
  });

  it('count in agent_fallbacks_total once per request a fallback model served', async () => {
    const rt = await start(sim.url, (d) => {
      d.model.fallbacks = [FALLBACK_MODEL];
    });
    await sim.setFault({ status: 529, model: PRIMARY_MODEL });
    const response = await post(rt, INVOKE, { input: 'Say hello.' });
    expect(response.status).toBe(200);
    expect((await response.json()) as InvokeAnswer).toMatchObject({
      model: FALLBACK_MODEL,
      fallbackUsed: true,
    });
    const scrape = await rt.runtime.metrics();
    expect(
      sample(scrape, 'agent_fallbacks_total', { from: PRIMARY_MODEL, to: FALLBACK_MODEL }),
    ).toBe(1);
    expect(sample(scrape, 'agent_fallbacks_total')).toBe(1);
  });
});

describe('agent_requests_total and agent_requests_failed_total', () => {
  it.each<[string, string, unknown]>([
    [INVOKE, 'a field the agent does not take', { model: PRIMARY_MODEL, input: 'hi' }],
    [INVOKE, 'an empty input', { input: '' }],
    [INVOKE, 'a body that is not JSON', '{"input": '],
    [MESSAGES, 'no messages', { model: PRIMARY_MODEL, max_tokens: 16, messages: [] }],
    [MESSAGES, 'a body that is not JSON', '{"model": '],
  ])('count a 400 on %s for %s once in each', async (route, _what, body) => {
    const rt = await start(sim.url);
    const response = await post(rt, route, body);
    expect(response.status).toBe(400);
    const scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'agent_requests_total')).toBe(1);
    expect(sample(scrape, 'agent_requests_total', { route })).toBe(1);
    expect(sample(scrape, 'agent_requests_failed_total')).toBe(1);
    expect(
      sample(scrape, 'agent_requests_failed_total', {
        route,
        status: '400',
        error_type: 'invalid_request_error',
      }),
    ).toBe(1);
  });

  it('count a served request once in the total and not as failed', async () => {
    const rt = await start(sim.url);
    expect((await post(rt, MESSAGES, message)).status).toBe(200);
    expect((await post(rt, INVOKE, { input: 'Say hello.' })).status).toBe(200);
    const scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'agent_requests_total', { route: MESSAGES, model: PRIMARY_MODEL })).toBe(
      1,
    );
    expect(sample(scrape, 'agent_requests_total', { route: INVOKE, model: PRIMARY_MODEL })).toBe(1);
    expect(sample(scrape, 'agent_requests_failed_total')).toBe(0);
  });

  it('count a failed call once as failed, answered plain or cut inside its stream', async () => {
    const rt = await start(sim.url);
    await sim.setFault({ status: 529, count: 1 });
    expect((await post(rt, MESSAGES, message)).status).toBeGreaterThanOrEqual(500);
    await sim.setFault({ status: 529, inStream: 'after-content', count: 1 });
    const streamed = await post(rt, MESSAGES, { ...message, stream: true });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain('event: error');
    const scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'agent_requests_total', { route: MESSAGES, model: PRIMARY_MODEL })).toBe(
      2,
    );
    expect(
      sample(scrape, 'agent_requests_failed_total', { route: MESSAGES, model: PRIMARY_MODEL }),
    ).toBe(2);
  });

  it('count the 503s the runtime answers while it drains after SIGTERM', async () => {
    const rt = await start(sim.url);
    // One call held at the provider keeps the process draining while the refusal is asked for.
    await sim.setFault({ latencyMs: 600_000, count: 1 });
    const held = new AbortController();
    const holding = post(rt, MESSAGES, message, held.signal).catch(() => undefined);
    await waitFor(
      async () => sample(await rt.runtime.metrics(), 'agent_requests_in_flight') === 1,
      { timeoutMs: 20_000, description: 'the held call to be in flight' },
    );
    rt.runtime.child.kill('SIGTERM');
    await waitFor(() => rt.runtime.output.some((line) => line.includes('"draining"')), {
      timeoutMs: 20_000,
      description: 'the runtime to log that it drains',
    });

    const refused = await post(rt, MESSAGES, message);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /shutting down/,
    );
    const scrape = await rt.runtime.metrics();
    // The refusal; the held call counts when it ends.
    expect(sample(scrape, 'agent_requests_total', { route: MESSAGES })).toBe(1);
    expect(
      sample(scrape, 'agent_requests_failed_total', {
        route: MESSAGES,
        status: '503',
        error_type: 'overloaded_error',
      }),
    ).toBe(1);

    held.abort();
    await holding;
    await rt.runtime.exited;
  });
});
