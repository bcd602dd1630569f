/**
 * The request and model-call metrics of docs/monitoring.md, read from a runtime process in
 * front of the simulator: `agent_llm_tokens` and `agent_fallbacks_total` for the bundled
 * agent's calls as for `/v1/messages`.
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
