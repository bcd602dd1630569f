/**
 * `POST /v1/agent/invoke` running the tool-use loop: the simulator asks for the tool the
 * prompt names, the runtime calls the HTTP tool this test serves and hands the result back,
 * and a tool that keeps failing gets its own breaker opened without failing the requests.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';

interface InvokeAnswer {
  output: string;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  fallbackUsed: boolean;
}

/** The tools' side: what each path was sent, and how it answers. */
const received: { path: string; body: unknown }[] = [];
let tools: Server;
let toolsUrl: string;
let sim: SimulatorHandle;
let rt: StandaloneRuntime;

const orderSchema = {
  type: 'object',
  properties: { order_id: { type: 'string' } },
  required: ['order_id'],
};

async function invoke(input: string): Promise<{ status: number; body: InvokeAnswer }> {
  const response = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input, sessionId: 'tool-loop-test' }),
  });
  return { status: response.status, body: (await response.json()) as InvokeAnswer };
}

beforeAll(async () => {
  tools = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(text) as unknown });
      if (req.url === '/orders') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"shipped"}');
      } else {
        res.writeHead(500).end('warehouse database unavailable');
      }
    });
  });
  await new Promise<void>((resolve) => tools.listen(0, '127.0.0.1', resolve));
  toolsUrl = `http://127.0.0.1:${(tools.address() as AddressInfo).port}`;
  sim = await startSimulator({ seed: 9 });
  rt = await standaloneRuntime(
    policyDocument(sim.url, (d) => {
      d.circuitBreaker.failureThreshold = 3;
      d.tools = [
        {
          name: 'lookup_order',
          description: 'Status of an order',
          inputSchema: orderSchema,
          url: `${toolsUrl}/orders`,
          timeoutMs: 2_000,
        },
        {
          name: 'check_stock',
          description: 'Stock level of an item',
          inputSchema: orderSchema,
          url: `${toolsUrl}/stock`,
          timeoutMs: 2_000,
        },
      ];
    }),
  );
});

afterAll(async () => {
  await rt.stop();
  await sim.stop();
  await new Promise((resolve) => tools.close(resolve));
});

describe('the agent’s tool-use loop', () => {
  it('calls the tool the model asks for and answers with what the tool returned', async () => {
    received.length = 0;
    const { status, body } = await invoke('Please use lookup_order for my parcel');
    expect(status).toBe(200);
    expect(body.output).toBe('lookup_order returned: {"status":"shipped"}');
    expect(body.model).toBe(PRIMARY_MODEL);
    expect(body.fallbackUsed).toBe(false);
    expect(received).toEqual([{ path: '/orders', body: { order_id: 'example order_id' } }]);
    // Two model calls: the one that asked for the tool and the one that read its result.
    expect((await sim.stats()).requests).toBeGreaterThanOrEqual(2);
    expect(body.usage.input_tokens).toBeGreaterThan(0);
    const scrape = await rt.runtime.metrics();
    expect(
      sample(scrape, 'agent_tool_calls_total', { tool: 'lookup_order', status: 'success' }),
    ).toBe(1);
    expect(sample(scrape, 'agent_tool_latency_seconds_count', { tool: 'lookup_order' })).toBe(1);
  });

  it('hands a failing tool’s error to the model, and opens that tool’s breaker after failureThreshold failures', async () => {
    received.length = 0;
    const outputs: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { status, body } = await invoke('Is it in stock? use check_stock');
      expect(status).toBe(200);
      outputs.push(body.output);
    }
    expect(outputs.every((o) => o.startsWith('check_stock failed: '))).toBe(true);
    // Three calls reached the tool; then its breaker refused without calling it.
    expect(received.map((r) => r.path)).toEqual(['/stock', '/stock', '/stock']);
    const scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'agent_tool_calls_total', { tool: 'check_stock', status: 'error' })).toBe(
      3,
    );
    expect(
      sample(scrape, 'agent_tool_calls_total', { tool: 'check_stock', status: 'rejected' }),
    ).toBe(2);
    expect(
      sample(scrape, 'circuit_breaker_state', { name: 'tool:check_stock', state: 'open' }),
    ).toBe(1);
    expect(
      sample(scrape, 'circuit_breaker_state', { name: 'tool:lookup_order', state: 'closed' }),
    ).toBe(1);
    // The tool's failures are its own: the model's breaker saw only successes.
    expect(
      sample(scrape, 'circuit_breaker_state', {
        name: `default/${PRIMARY_MODEL}`,
        state: 'closed',
      }),
    ).toBe(1);
  });
});

/** A streaming invocation's events, in order, as `[event, data]` pairs. */
async function invokeStream(input: string): Promise<{ type: string; events: [string, unknown][] }> {
  const response = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input, stream: true }),
  });
  const text = await response.text();
  const events = text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e): [string, unknown] => {
      const [event, data] = e.split('\n');
      return [event?.slice('event: '.length) ?? '', JSON.parse(data?.slice('data: '.length) ?? '')];
    });
  return { type: response.headers.get('content-type') ?? '', events };
}

describe('a streaming invocation', () => {
  it('runs the tool first, then streams the answer as text events and ends with done', async () => {
    const { type, events } = await invokeStream('Please use lookup_order, streamed');
    expect(type).toMatch(/^text\/event-stream/);
    const names = events.map(([name]) => name);
    const firstResult = names.indexOf('tool_result');
    expect(names.indexOf('tool_call')).toBeLessThan(firstResult);
    expect(names.at(-1)).toBe('done');
    const finalText = events
      .slice(firstResult + 1, -1)
      .filter(([name]) => name === 'text')
      .map(([, data]) => (data as { text: string }).text)
      .join('');
    expect(finalText).toBe('lookup_order returned: {"status":"shipped"}');
    // Streamed in pieces as the model wrote it, not in one event.
    expect(events.slice(firstResult + 1, -1).length).toBeGreaterThan(1);
    const done = events.at(-1)?.[1] as InvokeAnswer;
    expect(done.output).toBe(finalText);
    expect(done.model).toBe(PRIMARY_MODEL);
  });
});
