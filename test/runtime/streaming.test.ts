/**
 * Streams through the runtime as a real provider sends them: a first-token delay and pauses
 * between events, so that chunks reach the runtime one by one. The wire is read as raw bytes
 * where the SDK would hide a framing defect, and with the unmodified SDK where it is the caller.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { connect } from 'node:net';
import {
  PRIMARY_MODEL,
  FALLBACK_MODEL,
  policyDocument,
  sample,
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { waitFor } from '../support/kube.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';

let sim: SimulatorHandle;
let rt: StandaloneRuntime;

beforeAll(async () => {
  // The simulator's default pacing: a first-token pause, gaps between events, split events.
  sim = await startSimulator({ seed: 11 });
});

afterEach(async () => {
  await sim.clearFaults();
});

afterAll(async () => {
  await sim.stop();
});

/** A runtime in front of the simulator for one describe block, with `change` on the test policy. */
function runtimeFor(change: (doc: Mutable<PolicyDocument>) => void = () => undefined): void {
  beforeAll(async () => {
    rt = await standaloneRuntime(policyDocument(sim.url, change));
  });
  afterAll(async () => {
    await rt.stop();
  });
}

const sdk = () => new Anthropic({ baseURL: rt.runtime.url, apiKey: 'unused', maxRetries: 0 });

const ask = (text: string, maxTokens = 64) => ({
  model: PRIMARY_MODEL,
  max_tokens: maxTokens,
  messages: [{ role: 'user' as const, content: text }],
});

/** The text of a streamed answer, read with the SDK's MessageStream. */
async function streamText(text: string, maxTokens = 64): Promise<{ text: string; model: string }> {
  const message = await sdk().messages.stream(ask(text, maxTokens)).finalMessage();
  const block = message.content[0];
  return { text: block?.type === 'text' ? block.text : '', model: message.model };
}

/** What a streamed call failed with, as the SDK raised it. */
async function streamFailure(text: string): Promise<APIError> {
  try {
    await sdk().messages.stream(ask(text)).finalMessage();
  } catch (err) {
    if (err instanceof APIError) return err;
    throw err;
  }
  throw new Error('the stream succeeded');
}

const breaker = async (model = PRIMARY_MODEL) => {
  const all = (await rt.runtime.debug('/debug/breakers')) as {
    breakers: Record<
      string,
      { state: string; counters: { successes: number; failures: number; ignored: number } }
    >;
  };
  const entry = all.breakers[`default/${model}`];
  if (entry === undefined) throw new Error(`no breaker for ${model}: ${JSON.stringify(all)}`);
  return entry;
};

const attempts = async (outcome: string) =>
  sample(await rt.runtime.metrics(), 'agent_llm_attempts_total', { outcome });

/**
 * One HTTP/1.1 exchange per request on a single keep-alive socket; resolves with the bytes read
 * once every response's chunked terminator has arrived (an event stream's own lines end in LF
 * alone, so CRLF 0 CRLF CRLF is only ever a terminator), and fails with what it read if they
 * have not within `timeoutMs`.
 */
function rawExchanges(url: string, bodies: readonly string[], timeoutMs = 30_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const read = () => Buffer.concat(chunks).toString('utf8');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`not every response ended within ${String(timeoutMs)} ms: ${read()}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const raw = read();
      if (raw.split('\r\n0\r\n\r\n').length - 1 >= bodies.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(raw);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('connect', () => {
      for (const body of bodies) {
        socket.write(
          `POST /v1/messages HTTP/1.1\r\nHost: ${hostname}\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
    });
  });
}

/** Decodes HTTP/1.1 chunked bodies, one per response, failing loudly on any framing error. */
function dechunkResponses(raw: string): string[] {
  const bodies: string[] = [];
  let at = 0;
  while (at < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd < 0)
      throw new Error(`bytes after the last response: ${JSON.stringify(raw.slice(at))}`);
    const head = raw.slice(at, headEnd);
    if (!head.startsWith('HTTP/1.1 '))
      throw new Error(`not a status line: ${JSON.stringify(head)}`);
    if (!/transfer-encoding: chunked/i.test(head)) throw new Error(`not chunked: ${head}`);
    at = headEnd + 4;
    let body = '';
    for (;;) {
      const sizeEnd = raw.indexOf('\r\n', at);
      const size = Number.parseInt(raw.slice(at, sizeEnd), 16);
      if (!Number.isFinite(size))
        throw new Error(`bad chunk size at ${at}: ${JSON.stringify(raw.slice(at, at + 20))}`);
      at = sizeEnd + 2;
      if (size === 0) {
        if (raw.slice(at, at + 2) !== '\r\n') throw new Error('no CRLF after the last chunk');
        at += 2;
        break;
      }
      body += raw.slice(at, at + size);
      at += size;
      if (raw.slice(at, at + 2) !== '\r\n') throw new Error(`chunk not followed by CRLF at ${at}`);
      at += 2;
    }
    bodies.push(body);
  }
  return bodies;
}

/** The text deltas of an event stream, joined. */
function textOf(body: string): string {
  return [...body.matchAll(/"text_delta","text":("(?:[^"\\]|\\.)*")/g)]
    .map((m) => JSON.parse(m[1] ?? '""') as string)
    .join('');
}

const streamed = (text: string) =>
  JSON.stringify({
    model: PRIMARY_MODEL,
    max_tokens: 64,
    stream: true,
    messages: [{ role: 'user', content: text }],
  });

describe('the wire format of a paced stream', () => {
  runtimeFor();

  it('ends each response with its last event before the chunked terminator, and the keep-alive connection stays usable', async () => {
    const raw = await rawExchanges(rt.runtime.url, [
      streamed('the first of two streams on one connection'),
      streamed('the second'),
    ]);
    const bodies = dechunkResponses(raw);
    expect(bodies).toHaveLength(2);
    for (const body of bodies) {
      expect(body.trimEnd().endsWith('event: message_stop\ndata: {"type":"message_stop"}')).toBe(
        true,
      );
      expect(body).toContain('content_block_stop');
    }
    expect(textOf(bodies[1] ?? '')).toBe('You said: the second');
  });

  it('answers a call without max_tokens with the agent default', async () => {
    const { max_tokens: _, ...noMax } = ask('no max_tokens here');
    const message = await sdk().messages.create(noMax as Anthropic.MessageCreateParamsNonStreaming);
    expect(message.content[0]).toEqual({ type: 'text', text: 'You said: no max_tokens here' });
  });

  it('counts tokens through the SDK', async () => {
    const counted = await sdk().messages.countTokens({
      model: PRIMARY_MODEL,
      messages: [{ role: 'user', content: 'count these sixteen characters...' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
  });
});

describe('a stream through the runtime with the SDK', () => {
  runtimeFor((d) => {
    d.retry.maxAttempts = 3;
    d.model.fallbacks = [FALLBACK_MODEL];
  });

  it('arrives whole, counted as one successful attempt', async () => {
    const before = await attempts('Success');
    const answer = await streamText('a clean stream');
    expect(answer).toEqual({ text: 'You said: a clean stream', model: PRIMARY_MODEL });
    expect(await attempts('Success')).toBe(before + 1);
  });

  it('retries an overloaded error that came before any content, and the caller never sees it', async () => {
    await sim.setFault({ errorType: 'overloaded_error', inStream: 'before-content', count: 1 });
    const failures = (await breaker()).counters.failures;
    const answer = await streamText('retried unseen');
    expect(answer).toEqual({ text: 'You said: retried unseen', model: PRIMARY_MODEL });
    expect((await breaker()).counters.failures).toBe(failures + 1);
  });

  it('serves from the fallback model when the primary keeps failing before content', async () => {
    await sim.setFault({
      errorType: 'api_error',
      inStream: 'before-content',
      model: PRIMARY_MODEL,
    });
    const answer = await streamText('served by the fallback');
    expect(answer).toEqual({ text: 'You said: served by the fallback', model: FALLBACK_MODEL });
  });

  it('ends the stream with the provider error the SDK raises when it fails after content, and never retries it', async () => {
    await sim.setFault({ errorType: 'overloaded_error', inStream: 'after-content', count: 1 });
    const requests = (await sim.stats()).requests;
    const err = await streamFailure('cut after content');
    expect(err.status).toBeUndefined();
    expect(err.type).toBe('overloaded_error');
    expect((await sim.stats()).requests).toBe(requests + 1);
    expect(await attempts('Overloaded')).toBeGreaterThanOrEqual(1);
  });

  it('ends a stream dropped after content with an api_error event', async () => {
    await sim.setFault({ drop: true, inStream: 'after-content', count: 1 });
    const err = await streamFailure('dropped after content');
    expect(err.type).toBe('api_error');
    expect(await attempts('ConnectionError')).toBeGreaterThanOrEqual(1);
  });
});

describe('a stream that stalls', () => {
  runtimeFor((d) => {
    d.retry.maxAttempts = 2;
    d.streamIdleTimeoutMs = 1_500;
  });

  const timeouts = async () => sample(await rt.runtime.metrics(), 'guard_timeouts_total');

  it('is cut by the idle timeout after content and reaches the SDK as a timeout_error', async () => {
    const before = await timeouts();
    await sim.setFault({ hang: true, inStream: 'after-content', count: 1 });
    const started = Date.now();
    const err = await streamFailure('stalls after content');
    expect(err.type).toBe('timeout_error');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await attempts('Timeout')).toBe(1);
    // The runtime's own limit timed the attempt out: counted with the guard's timeouts.
    expect(await timeouts()).toBe(before + 1);
  });

  it('is retried unseen when it stalls before content', async () => {
    const before = await timeouts();
    await sim.setFault({ hang: true, inStream: 'before-content', count: 1 });
    const answer = await streamText('stalls before content');
    expect(answer.text).toBe('You said: stalls before content');
    expect(await timeouts()).toBe(before + 1);
  });
});

describe('a caller who goes away mid-stream', () => {
  runtimeFor();

  it('is not counted against the provider, and the provider stream is closed', async () => {
    const ignored = await breaker().then(
      (b) => b.counters.ignored,
      () => 0,
    );
    const stream = sdk().messages.stream(ask('a long answer '.repeat(150), 2_000));
    await new Promise<void>((resolve) =>
      stream.once('text', () => {
        resolve();
      }),
    );
    stream.abort();
    await expect(stream.finalMessage()).rejects.toThrow();
    await waitFor(async () => (await breaker()).counters.ignored === ignored + 1, {
      timeoutMs: 5_000,
      description: 'the cancelled attempt to be counted as ignored',
    });
    await waitFor(async () => (await sim.stats()).inFlight === 0, {
      timeoutMs: 5_000,
      description: 'the provider stream to be closed',
    });
    const b = await breaker();
    expect(b.counters.failures).toBe(0);
    expect(b.state).toBe('Closed');
    expect(await attempts('Cancelled')).toBe(1);
  });
});

describe('the breaker on streamed overloads', () => {
  runtimeFor((d) => {
    d.circuitBreaker = { ...d.circuitBreaker, failureThreshold: 3, openDurationMs: 60_000 };
  });

  it('opens after failureThreshold streamed overloaded errors, then fails fast without reaching the provider', async () => {
    await sim.setFault({ errorType: 'overloaded_error', inStream: 'after-content' });
    for (let i = 0; i < 3; i++)
      expect((await streamFailure(`overload ${i}`)).type).toBe('overloaded_error');
    expect((await breaker()).state).toBe('Open');
    const requests = (await sim.stats()).requests;
    const err = await streamFailure('fails fast');
    expect(err.status).toBe(503);
    expect((await sim.stats()).requests).toBe(requests);
  });
});

describe('token budgets on streams', () => {
  runtimeFor((d) => {
    d.rateLimit = {
      ...d.rateLimit,
      tokens: { replicaInputPerMinute: 100_000, replicaOutputPerMinute: 2_000 },
      onLimit: 'Reject',
    };
  });

  it('holds the max_tokens estimate while a stream runs and settles it from the usage at its end', async () => {
    const long = sdk().messages.stream(ask('hold the budget '.repeat(40), 1_500));
    await new Promise<void>((resolve) =>
      long.once('text', () => {
        resolve();
      }),
    );
    // While the first stream runs, its 1500-token reservation leaves too little for another.
    const refused = await sdk()
      .messages.create(ask('refused while the first runs', 1_500))
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(429);
    await long.finalMessage();
    // Settled from what the stream really produced (about 170 tokens): another 1500 fit again.
    const answer = await streamText('fits after settlement', 1_500);
    expect(answer.text).toBe('You said: fits after settlement');
  });
});

describe('concurrent streams under maxConcurrent', () => {
  runtimeFor((d) => {
    d.rateLimit = {
      ...d.rateLimit,
      concurrency: { replicaMaxConcurrent: 2, replicaMaxQueue: 10, queueTimeoutMs: 30_000 },
    };
  });

  it('lets the provider see at most two of six streams at once, and serves all six', async () => {
    await sim.resetStats();
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => streamText(`stream number ${i} `.repeat(8))),
    );
    expect(answers.map((a) => a.text)).toEqual(
      Array.from({ length: 6 }, (_, i) => `You said: ${`stream number ${i} `.repeat(8)}`),
    );
    const stats = await sim.stats();
    expect(stats.requests).toBe(6);
    expect(stats.maxInFlight).toBe(2);
  });
});
