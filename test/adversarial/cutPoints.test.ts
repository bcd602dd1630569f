/**
 * A client that hangs up at every point of a call, against the public HTTP API of a real
 * runtime whose budget lives in a real redis-server: after its request head, mid-body, after
 * each kind of stream event, and before reading a plain answer. For each cut, what the budget
 * settled is no less than what the simulator billed (its own log, `GET /_sim/usage`, priced
 * with the agent's prices: M1, M3), nothing stays held, and the runtime serves the next call.
 * And a client that reads a long stream slowly, so that the runtime's write buffer fills and it
 * stops reading the provider, then hangs up. Then cuts of every kind until the budget refuses:
 * settled spend within the limit (B1).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { CUT_STREAM_OUTPUT_MARGIN } from '../../runtime/src/provider/sseUsage.ts';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { PRICING } from '../support/budgetStoreFixture.ts';
import {
  ONE_WRITE_STREAMS,
  startSimulator,
  type BilledCall,
  type SimulatorHandle,
} from '../support/simulator.ts';
import { PRIMARY_MODEL, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import { backdrop, type Backdrop } from './adversaryAgents.ts';

const book = priceBook(PRICING);

/** What the simulator billed for `calls`, at the agent's prices, in picodollars. */
function billedPico(calls: readonly BilledCall[]): bigint {
  let pico = 0n;
  for (const call of calls) {
    const cost = callCost(call.model, call.usage, book);
    if (!cost.priced) throw new Error(cost.message);
    pico += cost.picoUsd;
  }
  return pico;
}

/** A prompt whose answer (the simulator echoes it) takes many events. */
const PROMPT = 'Tell me about the sea, its tides and its weather. '.repeat(6);
const request = (stream: boolean, prompt = PROMPT) =>
  JSON.stringify({
    model: PRIMARY_MODEL,
    max_tokens: 512,
    stream,
    messages: [{ role: 'user', content: prompt }],
  });

type Cut =
  /** Hangs up with the request unsent past `sent` bytes of its body. */
  | { readonly body: 'none' | 'half' }
  /** Hangs up once the stream's text matches. */
  | { readonly stream: RegExp }
  /** Hangs up on a plain call once the provider has it, before any answer. */
  | { readonly plain: 'before the answer' }
  /** Hangs up on `/v1/agent/invoke` once the provider has its model call. */
  | { readonly invoke: 'before the answer' };

const afterEvent = (type: string) => new RegExp(`event: ${type}\\r?\\ndata: [^\\n]*\\r?\\n\\r?\\n`);

const CUTS: readonly (readonly [string, Cut, number])[] = [
  // name, cut, calls the provider bills
  ['after the request head', { body: 'none' }, 0],
  ['mid-body', { body: 'half' }, 0],
  ['after message_start', { stream: afterEvent('message_start') }, 1],
  ['after content_block_start', { stream: afterEvent('content_block_start') }, 1],
  ['after the first content_block_delta', { stream: afterEvent('content_block_delta') }, 1],
  ['after content_block_stop', { stream: afterEvent('content_block_stop') }, 1],
  ['on the line that names message_delta', { stream: /event: message_delta\r?\n/ }, 1],
  ['after message_delta, before message_stop', { stream: afterEvent('message_delta') }, 1],
  ['before reading a plain answer', { plain: 'before the answer' }, 1],
  ['before reading an answer of /v1/agent/invoke', { invoke: 'before the answer' }, 1],
];

let world: Backdrop;
/** A provider that writes a whole stream at once (the slow reader's). */
let fast: SimulatorHandle;
let rt: StandaloneRuntime;
let tight: StandaloneRuntime;
let slow: StandaloneRuntime;
const AGENT = 'adversary-cuts';
const TIGHT = 'adversary-cuts-tight';
const SLOW = 'adversary-cuts-slow';

beforeAll(async () => {
  // Every answer takes 300 ms to begin, as a provider's does: a plain call is left before it.
  [world, fast] = await Promise.all([
    backdrop({ latencyMs: 300 }),
    startSimulator({ seed: 9, ...ONE_WRITE_STREAMS }),
  ]);
  // Each describe has its agent, and so its own budget account: none reads another's spend.
  // One at a time: a runtime's start is mostly CPU, and on a busy machine three at once miss
  // the start timeout.
  rt = await world.runtime(AGENT, { budget: { name: 'daily', usd: '10', per: 'Agent' } });
  tight = await world.runtime(TIGHT, { budget: { name: 'daily', usd: '0.015', per: 'Agent' } });
  slow = await world.runtime(SLOW, {
    provider: fast,
    budget: { name: 'daily', usd: '100', per: 'Agent' },
  });
}, 90_000);
afterAll(async () => {
  await Promise.all([world.stop(), fast.stop()]);
});

/**
 * Sends a call to the runtime and hangs up as `cut` says; resolves with the status the
 * runtime answered (0 when it never did), once the connection is gone. `atCut` runs right
 * before a stream's hang-up; `prompt` is the one the simulator echoes.
 */
async function callAndCut(
  url: string,
  cut: Cut,
  { atCut = () => undefined, prompt = PROMPT }: { atCut?: () => void; prompt?: string } = {},
): Promise<number> {
  const { port } = new URL(url);
  if ('body' in cut) {
    const body = request(true);
    const socket = connect({ port: Number(port), host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('error', () => undefined);
    const sent = cut.body === 'none' ? '' : body.slice(0, body.length / 2);
    socket.write(
      `POST /v1/messages HTTP/1.1\r\nhost: runtime\r\ncontent-type: application/json\r\n` +
        `content-length: ${String(Buffer.byteLength(body))}\r\n\r\n${sent}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    return 0;
  }
  const before = (await world.sim.stats()).requests;
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/${'invoke' in cut ? 'agent/invoke' : 'messages'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    req.on('error', () => {
      resolve(0);
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if ('stream' in cut && cut.stream.test(text)) {
          atCut();
          req.destroy();
          resolve(res.statusCode ?? 0);
        }
      });
      res.on('end', () => {
        // A refusal ends before any cut; an answer that does was never cut.
        if (res.statusCode !== 200) resolve(res.statusCode ?? 0);
        else reject(new Error(`the answer ended before its cut: ${text}`));
      });
      res.on('error', () => undefined);
    });
    req.end('invoke' in cut ? JSON.stringify({ input: prompt }) : request('stream' in cut, prompt));
    if (!('stream' in cut))
      void waitFor(async () => (await world.sim.stats()).requests > before, {
        timeoutMs: 10_000,
        intervalMs: 5,
        description: 'the call to reach the provider',
      }).then(() => {
        req.destroy();
        resolve(0);
      }, reject);
  });
}

/** The account's settled spend once nothing is held, in picodollars. */
async function settled(agent: string): Promise<bigint> {
  return waitFor(
    async () => {
      const held = Object.values(await world.held(agent));
      const spent = Object.values(await world.spent(agent));
      return held.every((h) => h === 0n) && (spent[0] ?? 0n) + 1n;
    },
    { timeoutMs: 15_000, intervalMs: 50, description: 'every call settled' },
  ).then((plusOne) => plusOne - 1n);
}

const sdk = (url: string) => new Anthropic({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
const short = {
  model: PRIMARY_MODEL,
  max_tokens: 8,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

describe('a client that hangs up', () => {
  it.each(CUTS)(
    '%s: settled no less than the provider billed, nothing held, and the next call served',
    async (_name, cut, calls) => {
      const before = await settled(AGENT);
      await world.sim.resetBilled();
      await callAndCut(rt.runtime.url, cut);
      const log = await waitFor(
        async () => {
          const billed = await world.sim.billed();
          return billed.length >= calls && billed;
        },
        { timeoutMs: 10_000, intervalMs: 20, description: `${String(calls)} billed calls` },
      );
      const spent = (await settled(AGENT)) - before;
      const billed = billedPico(log);
      expect(log).toHaveLength(calls);
      if (calls > 0) expect(billed).toBeGreaterThan(0n);
      expect(spent).toBeGreaterThanOrEqual(billed);
      // The next caller is served.
      const next = await sdk(rt.runtime.url).messages.create(short);
      expect(next.type).toBe('message');
    },
  );
});

describe('a runtime starved of CPU as its client hangs up', () => {
  // The runtime is stopped (SIGSTOP) at the hang-up and let go while its provider is still
  // writing into its socket, as a runtime the scheduler starves is: it hears the hang-up in
  // the same turn as it finds the provider's bytes, which it reads before it closes the
  // connection. All that the provider wrote while the runtime slept is billed, and settled.
  it('settles no less than the provider billed, nothing held, and the next call served', async () => {
    const before = await settled(AGENT);
    await world.sim.resetBilled();
    const { pid } = rt.runtime.child;
    if (pid === undefined) throw new Error('the runtime has no process id');
    try {
      await callAndCut(
        rt.runtime.url,
        { stream: afterEvent('content_block_start') },
        {
          atCut: () => process.kill(pid, 'SIGSTOP'),
          // About 150 events 8 ms apart: the provider is still writing when the runtime wakes.
          prompt: PROMPT.repeat(8),
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const log = await waitFor(
      async () => {
        const billed = await world.sim.billed();
        return billed.length >= 1 && billed;
      },
      { timeoutMs: 10_000, intervalMs: 20, description: 'the billed call' },
    );
    const spent = (await settled(AGENT)) - before;
    expect(log).toHaveLength(1);
    // The provider wrote past the margin while the runtime slept, and was cut before its end.
    expect(log[0]?.ending).toBe('client_cut');
    expect(log[0]?.usage.output_tokens).toBeGreaterThan(2 * CUT_STREAM_OUTPUT_MARGIN);
    expect(spent).toBeGreaterThanOrEqual(billedPico(log));
    const next = await sdk(rt.runtime.url).messages.create(short);
    expect(next.type).toBe('message');
  });
});

/**
 * Asks `url` for a stream of `prompt` echoed, reads `reads` chunks of it `pauseMs` apart (the
 * rest waits in the socket buffers, and the runtime's write buffer fills behind them), then
 * hangs up; resolves with what it read.
 */
async function readSlowlyThenCut(
  url: string,
  prompt: string,
  { reads, pauseMs }: { readonly reads: number; readonly pauseMs: number },
): Promise<string> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    req.on('error', reject);
    req.on('response', resolve);
    req.end(
      JSON.stringify({
        model: PRIMARY_MODEL,
        max_tokens: Math.ceil(prompt.length / 4) + 64,
        stream: true,
        messages: [{ role: 'user', content: prompt }],
      }),
    );
  });
  expect(res.statusCode).toBe(200);
  res.on('error', () => undefined);
  res.pause();
  let read = '';
  for (let i = 0; i < reads; i++) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const chunk = await new Promise<Buffer>((resolve) => {
      res.once('data', (c: Buffer) => {
        res.pause();
        resolve(c);
      });
      res.resume();
    });
    read += chunk.toString('utf8');
  }
  res.destroy();
  return read;
}

describe('a client that reads slowly, then hangs up', () => {
  /** Echoed back as about 2 MB of events: more than the socket buffers between them hold. */
  const LONG = 'The tide comes in and goes out again, and the wind turns. '.repeat(70_000);

  // Its provider writes the whole answer at once, as a fast model does: it has written (and
  // bills) all of it while the runtime, held back by its caller, has read a part.
  it('settles no less than the provider billed, nothing held, and the next call served', async () => {
    const read = await readSlowlyThenCut(slow.runtime.url, LONG, { reads: 4, pauseMs: 250 });
    const log = await waitFor(
      async () => {
        const billed = await fast.billed();
        return billed.length >= 1 && billed;
      },
      { timeoutMs: 10_000, intervalMs: 20, description: 'the billed call' },
    );
    const spent = await settled(SLOW);
    expect(log).toHaveLength(1);
    // The client hung up with most of the stream, its final usage too, still in buffers.
    expect(read).toContain('event: content_block_delta');
    expect(read).not.toContain('event: message_delta');
    expect(spent).toBeGreaterThanOrEqual(billedPico(log));
    const next = await sdk(slow.runtime.url).messages.create(short);
    expect(next.type).toBe('message');
  });
});

describe('cuts of every kind under a tight budget', () => {
  const LIMIT_PICO = 15_000_000_000n; // $0.015: about two calls' worst case

  it('settles within the limit, and no less than billed, until the budget refuses', async () => {
    await world.sim.resetBilled();
    let refused = 0;
    for (let round = 0; refused === 0 && round < 40; round++) {
      const [, cut] = CUTS[round % CUTS.length] ?? CUTS[0] ?? ['', { body: 'none' }, 0];
      if ('body' in cut) continue;
      if ((await callAndCut(tight.runtime.url, cut)) === 429) refused++;
      // One at a time, as one caller would: the next cut sees this one settled.
      await settled(TIGHT);
    }
    expect(refused).toBe(1);
    const spent = await settled(TIGHT);
    const billed = billedPico(await world.sim.billed());
    expect(spent).toBeLessThanOrEqual(LIMIT_PICO);
    expect(spent).toBeGreaterThanOrEqual(billed);
  });
});
