/**
 * OpenTelemetry's GenAI metrics on /metrics (docs/monitoring.md), read from a runtime process
 * in front of the simulator: each model call's tokens against the usage the simulator
 * reported, its duration, a streamed call's time to first token, and a failed attempt's
 * error type, under the names the OTel Prometheus exporter gives them.
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

let sim: SimulatorHandle;
let running: StandaloneRuntime | undefined;

beforeAll(async () => {
  sim = await startSimulator({ seed: 23 });
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await sim.clearFaults();
});

afterAll(async () => {
  await sim.stop();
});

function post(rt: StandaloneRuntime, body: unknown): Promise<Response> {
  return fetch(`${rt.runtime.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const message = (stream: boolean) => ({
  model: PRIMARY_MODEL,
  max_tokens: 32,
  stream,
  messages: [{ role: 'user', content: 'Tell me about breakwaters.' }],
});

/** A stream's usage as the simulator reported it: input from message_start, output from the last delta. */
function streamedUsage(text: string): { input: number; output: number } {
  const input = /"input_tokens":(\d+)/.exec(text);
  const outputs = [...text.matchAll(/"output_tokens":(\d+)/g)];
  return { input: Number(input?.[1]), output: Number(outputs.at(-1)?.[1]) };
}

describe('the GenAI conventions’ metrics on /metrics', () => {
  it('observe each call’s tokens as the simulator reported them, its duration and a stream’s first token', async () => {
    running = await standaloneRuntime(policyDocument(sim.url));
    const rt = running;
    const plain = await post(rt, message(false));
    expect(plain.status).toBe(200);
    const plainAnswer = (await plain.json()) as {
      model: string;
      usage: { input_tokens: number; output_tokens: number };
    };
    const streamed = await post(rt, message(true));
    expect(streamed.status).toBe(200);
    const stream = streamedUsage(await streamed.text());
    expect(stream.output).toBeGreaterThan(0);

    const scrape = await rt.runtime.metrics();
    const peer = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'anthropic',
      gen_ai_request_model: PRIMARY_MODEL,
      gen_ai_response_model: plainAnswer.model,
      server_address: new URL(sim.url).hostname,
      server_port: new URL(sim.url).port,
    };
    const input = { ...peer, gen_ai_token_type: 'input' };
    const output = { ...peer, gen_ai_token_type: 'output' };
    expect(sample(scrape, 'gen_ai_client_token_usage_count', input)).toBe(2);
    expect(sample(scrape, 'gen_ai_client_token_usage_sum', input)).toBe(
      plainAnswer.usage.input_tokens + stream.input,
    );
    expect(sample(scrape, 'gen_ai_client_token_usage_sum', output)).toBe(
      plainAnswer.usage.output_tokens + stream.output,
    );
    expect(sample(scrape, 'gen_ai_client_operation_duration_seconds_count', peer)).toBe(2);
    expect(sample(scrape, 'gen_ai_client_operation_duration_seconds_sum', peer)).toBeGreaterThan(0);
    // Only the stream has a first token the runtime relayed.
    expect(sample(scrape, 'gen_ai_server_time_to_first_token_seconds_count', peer)).toBe(1);
    expect(scrape).toContain('# TYPE gen_ai_client_token_usage histogram');
    expect(scrape).toMatch(/gen_ai_client_token_usage_bucket\{le="67108864",/);
  });

  it('observe a failed attempt’s duration under its error type, with no tokens', async () => {
    running = await standaloneRuntime(
      policyDocument(sim.url, (d) => {
        d.model.fallbacks = [FALLBACK_MODEL];
      }),
    );
    await sim.setFault({ status: 529, model: PRIMARY_MODEL });
    const response = await post(running, message(false));
    expect(response.status).toBe(200);
    const scrape = await running.runtime.metrics();
    const failed = sample(scrape, 'gen_ai_client_operation_duration_seconds_count', {
      gen_ai_request_model: PRIMARY_MODEL,
      error_type: 'Overloaded',
    });
    expect(failed).toBeGreaterThan(0);
    expect(
      sample(scrape, 'gen_ai_client_token_usage_count', { gen_ai_request_model: PRIMARY_MODEL }),
    ).toBe(0);
    expect(
      sample(scrape, 'gen_ai_client_token_usage_count', {
        gen_ai_request_model: FALLBACK_MODEL,
        gen_ai_token_type: 'output',
      }),
    ).toBe(1);
  });
});
