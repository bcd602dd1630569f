/**
 * The simulator speaking Amazon Bedrock's and Google Vertex AI's wire formats to real clients:
 * requests signed by @smithy/signature-v4 and sent with undici, Bedrock's event stream read
 * back through the AWS SDK's own frame reassembly and decoder, Vertex tokens obtained by
 * google-auth-library from a generated service-account key. Faults strike one provider while
 * the others answer. Needs no cluster: the simulator runs in this process, its clock shifted
 * (not slept) to expire tokens.
 */
import Anthropic from '@anthropic-ai/sdk';
import { Sha256 } from '@aws-crypto/sha256-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { getChunkedStream } from '@smithy/core/event-streams';
import { EventStreamCodec, MessageDecoderStream } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { JWT } from 'google-auth-library';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'undici';
import { systemClock, type Clock } from '../../platform/src/time/clock.ts';
import { DEFAULT_PACING } from '../../simulator/src/streamPacing.ts';
import { Simulator } from '../../simulator/src/server.ts';

const MODEL_ID = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const VERTEX_MODEL = 'claude-sonnet-4-5@20250929';
const KEY = { accessKeyId: 'AKIDSIMULATOR01', secretAccessKey: 'simulator-secret' };
const REGION = 'us-east-1';
const SA_EMAIL = 'runtime@sim-project.iam.gserviceaccount.com';
const TOKEN_TTL_SECONDS = 60;

const messages = (text: string) => ({
  max_tokens: 256,
  messages: [{ role: 'user', content: text }],
});

let offsetMs = 0;
const clock: Clock = {
  now: () => Date.now() + offsetMs,
  setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
};
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
let sim: Simulator;
let url: string;
let port: number;

beforeAll(async () => {
  sim = new Simulator(
    {
      latencyMs: 0,
      pacing: DEFAULT_PACING,
      seed: 7,
      limits: {
        requestsPerMinute: undefined,
        inputTokensPerMinute: undefined,
        outputTokensPerMinute: undefined,
      },
      apiKey: undefined,
      awsCredentials: [KEY],
      vertexServiceAccounts: [
        {
          clientEmail: SA_EMAIL,
          publicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          tokenTtlSeconds: TOKEN_TTL_SECONDS,
        },
      ],
    },
    clock,
  );
  url = await sim.listen(0, '127.0.0.1');
  port = Number(new URL(url).port);
});

afterAll(async () => {
  await sim.close(1_000);
});

beforeEach(() => {
  offsetMs = 0;
  sim.faults.clear();
  sim.stats.reset();
  sim.promptCache.clear();
});

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly chunks: Uint8Array[];
  json(): unknown;
}

async function send(path: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const response = await request(`${url}${path}`, { method: 'POST', headers, body });
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Uint8Array);
  return {
    status: response.statusCode,
    headers: response.headers,
    chunks,
    json: () => JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
  };
}

/** A Bedrock call as the AWS SDK makes it: the model id escaped in the path, then SigV4. */
async function bedrock(
  operation: 'invoke' | 'invoke-with-response-stream' | 'count-tokens',
  body: unknown,
  { credentials = KEY, signingDate = new Date() } = {},
): Promise<Answer> {
  const path = `/model/${encodeURIComponent(MODEL_ID)}/${operation}`;
  const json = JSON.stringify(body);
  const signer = new SignatureV4({
    credentials,
    region: REGION,
    service: 'bedrock',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path,
      query: {},
      headers: {
        host: `127.0.0.1:${port}`,
        'content-type': 'application/json',
        accept:
          operation === 'invoke-with-response-stream'
            ? 'application/vnd.amazon.eventstream'
            : 'application/json',
      },
      body: json,
    },
    { signingDate },
  );
  return send(path, signed.headers, json);
}

const invokeBody = (text: string) => ({
  anthropic_version: 'bedrock-2023-05-31',
  ...messages(text),
});

interface Frame {
  readonly headers: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** Reads an event stream as the AWS SDK does: frames reassembled across reads, then decoded. */
async function frames(chunks: readonly Uint8Array[]): Promise<Frame[]> {
  async function* reads() {
    for (const chunk of chunks) yield await Promise.resolve(chunk);
  }
  const decoder = new MessageDecoderStream({
    inputStream: getChunkedStream(reads()),
    decoder: new EventStreamCodec(toUtf8, fromUtf8),
  });
  const out: Frame[] = [];
  for await (const message of decoder) {
    out.push({
      headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.value])),
      payload: JSON.parse(toUtf8(message.body)) as Record<string, unknown>,
    });
  }
  return out;
}

/** The Anthropic events inside Bedrock's chunk frames. */
function anthropicEvents(decoded: readonly Frame[]): { type: string; delta?: { text?: string } }[] {
  return decoded
    .filter((f) => f.headers[':message-type'] === 'event')
    .map(
      (f) =>
        JSON.parse(Buffer.from(f.payload['bytes'] as string, 'base64').toString('utf8')) as {
          type: string;
        },
    );
}

const textOf = (events: readonly { type: string; delta?: { text?: string } }[]) =>
  events.map((e) => (e.type === 'content_block_delta' ? (e.delta?.text ?? '') : '')).join('');

describe('Bedrock', () => {
  it('answers InvokeModel with the Anthropic message and token-count headers', async () => {
    const answer = await bedrock('invoke', invokeBody('hello from bedrock'));
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject({
      type: 'message',
      model: MODEL_ID,
      content: [{ type: 'text', text: 'You said: hello from bedrock' }],
    });
    expect(answer.headers['x-amzn-bedrock-output-token-count']).toBeDefined();
  });

  it('streams InvokeModelWithResponseStream as event-stream frames cut across reads', async () => {
    const answer = await bedrock(
      'invoke-with-response-stream',
      invokeBody('a streamed reply of some length'),
    );
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/vnd.amazon.eventstream');
    const events = anthropicEvents(await frames(answer.chunks));
    expect(events[0]?.type).toBe('message_start');
    expect(events.at(-1)?.type).toBe('message_stop');
    expect(textOf(events)).toBe('You said: a streamed reply of some length');
    expect(answer.chunks.length).toBeGreaterThan(1);
  });

  it('streams a thinking block, signed, and bills its full thinking in the invocation metrics', async () => {
    const answer = await bedrock('invoke-with-response-stream', {
      ...invokeBody('think before you answer'),
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });
    const events = anthropicEvents(await frames(answer.chunks)) as {
      type: string;
      content_block?: { type?: string };
      delta?: { type?: string; thinking?: string };
      'amazon-bedrock-invocationMetrics'?: { outputTokenCount: number };
    }[];
    expect(events[2]?.content_block?.type).toBe('thinking');
    const summary = events.map((e) => e.delta?.thinking ?? '').join('');
    expect(events.some((e) => e.delta?.type === 'signature_delta')).toBe(true);
    const billed = events.at(-1)?.['amazon-bedrock-invocationMetrics']?.outputTokenCount ?? 0;
    expect(billed).toBeGreaterThan(Math.ceil(summary.length / 4) + 10);
  });

  it('counts tokens like the Anthropic API for the same body', async () => {
    const body = invokeBody('count me');
    const encoded = Buffer.from(JSON.stringify(body)).toString('base64');
    const answer = await bedrock('count-tokens', { input: { invokeModel: { body: encoded } } });
    const anthropic = new Anthropic({ baseURL: url, apiKey: 'test', maxRetries: 0 });
    const counted = await anthropic.messages.countTokens({
      model: 'claude-sim-1',
      messages: [{ role: 'user', content: 'count me' }],
    });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ inputTokens: counted.input_tokens });
  });

  it('throttles with ThrottlingException while the Anthropic API keeps answering', async () => {
    sim.faults.add({
      action: {
        kind: 'error',
        status: 529,
        errorType: 'overloaded_error',
        retryAfterSeconds: undefined,
        inStream: undefined,
      },
      latencyMs: 0,
      rate: 1,
      count: undefined,
      provider: 'bedrock',
    });
    const throttled = await bedrock('invoke', invokeBody('hi'));
    expect(throttled.status).toBe(429);
    expect(String(throttled.headers['x-amzn-errortype'])).toMatch(/^ThrottlingException(:|$)/);
    expect(throttled.json()).toEqual({ message: expect.any(String) });

    const anthropic = new Anthropic({ baseURL: url, apiKey: 'test', maxRetries: 0 });
    const reply = await anthropic.messages.create({
      model: 'claude-sim-1',
      ...messages('still here'),
    } as Anthropic.MessageCreateParamsNonStreaming);
    expect(reply.content).toEqual([{ type: 'text', text: 'You said: still here' }]);

    const { byProvider } = sim.stats.snapshot();
    expect(byProvider.bedrock).toMatchObject({ requests: 1, byOutcome: { error_429: 1 } });
    expect(byProvider.anthropic).toMatchObject({ requests: 1, byOutcome: { ok: 1 } });
  });

  it('ends a stream with a modelStreamErrorException frame after content', async () => {
    sim.faults.add({
      action: {
        kind: 'error',
        status: 424,
        errorType: 'api_error',
        retryAfterSeconds: undefined,
        inStream: 'after-content',
      },
      latencyMs: 0,
      rate: 1,
      count: 1,
      provider: 'bedrock',
    });
    const answer = await bedrock(
      'invoke-with-response-stream',
      invokeBody('a reply long enough to break in the middle'),
    );
    expect(answer.status).toBe(200);
    const decoded = await frames(answer.chunks);
    expect(textOf(anthropicEvents(decoded))).not.toBe('');
    expect(decoded.at(-1)?.headers).toEqual({
      ':exception-type': 'modelStreamErrorException',
      ':content-type': 'application/json',
      ':message-type': 'exception',
    });
  });

  it.each([
    [
      'an unknown access key id',
      { credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: KEY.secretAccessKey } },
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    ],
    [
      'a wrong secret',
      { credentials: { ...KEY, secretAccessKey: 'wrong' } },
      'InvalidSignatureException',
      'The request signature we calculated does not match',
    ],
    [
      'a signature six minutes old',
      { signingDate: new Date(Date.now() - 6 * 60_000) },
      'InvalidSignatureException',
      'Signature expired',
    ],
  ])('refuses %s with 403 and Bedrock’s error', async (_name, signing, exception, message) => {
    const answer = await bedrock('invoke', invokeBody('hi'), signing);
    expect(answer.status).toBe(403);
    expect(String(answer.headers['x-amzn-errortype']).split(':')[0]).toBe(exception);
    expect((answer.json() as { message: string }).message).toContain(message);
  });

  it('refuses a model id Bedrock does not know with ValidationException', async () => {
    const path = '/model/gpt-5/invoke';
    const signer = new SignatureV4({
      credentials: KEY,
      region: REGION,
      service: 'bedrock',
      sha256: Sha256,
    });
    const body = JSON.stringify(invokeBody('hi'));
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path,
      query: {},
      headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json' },
      body,
    });
    const answer = await send(path, signed.headers, body);
    expect(answer.status).toBe(400);
    expect(String(answer.headers['x-amzn-errortype'])).toMatch(/^ValidationException/);
    expect(answer.json()).toEqual({ message: 'The provided model identifier is invalid.' });
  });
});

describe('Vertex AI', () => {
  const vertexPath = (model: string, method: string) =>
    `/v1/projects/sim-project/locations/us-east5/publishers/anthropic/models/${model}:${method}`;

  /** google-auth-library with a generated service-account key, its token requests sent here. */
  function googleClient(): JWT {
    const client = new JWT({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    client.fromJSON({
      type: 'service_account',
      client_email: SA_EMAIL,
      private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      token_uri: `${url}/token`,
    } as Parameters<JWT['fromJSON']>[0]);
    // The library posts to Google's token URL whatever the key's token_uri says: redirect it.
    client.transporter.interceptors.request.add({
      resolved: (config) => {
        if (config.url.toString() === 'https://oauth2.googleapis.com/token')
          config.url = new URL(`${url}/token`);
        return Promise.resolve(config);
      },
    });
    return client;
  }

  const bearer = async (client: JWT) => ({
    authorization: `Bearer ${(await client.getAccessToken()).token ?? ''}`,
    'content-type': 'application/json',
  });
  const vertexBody = (text: string, extra: object = {}) =>
    JSON.stringify({ anthropic_version: 'vertex-2023-10-16', ...messages(text), ...extra });

  it('answers rawPredict and streams streamRawPredict as the Anthropic API does', async () => {
    const client = googleClient();
    const plain = await send(
      vertexPath(VERTEX_MODEL, 'rawPredict'),
      await bearer(client),
      vertexBody('hello vertex'),
    );
    expect(plain.status).toBe(200);
    expect(plain.json()).toMatchObject({
      content: [{ type: 'text', text: 'You said: hello vertex' }],
    });

    const streamed = await send(
      vertexPath(VERTEX_MODEL, 'streamRawPredict'),
      await bearer(client),
      vertexBody('hello stream', { stream: true }),
    );
    expect(streamed.status).toBe(200);
    expect(streamed.headers['content-type']).toBe('text/event-stream');
    const text = Buffer.concat(streamed.chunks).toString('utf8');
    expect(text.startsWith('event: message_start\n')).toBe(true);
    expect(text).toContain('event: message_stop\n');
  });

  it('counts tokens on the count-tokens model', async () => {
    const client = googleClient();
    const answer = await send(
      vertexPath('count-tokens', 'rawPredict'),
      await bearer(client),
      JSON.stringify({ model: VERTEX_MODEL, messages: [{ role: 'user', content: 'count me' }] }),
    );
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ input_tokens: expect.any(Number) });
  });

  it('refuses an unknown token, then an expired one, with 401 UNAUTHENTICATED; a refreshed token works', async () => {
    const unknown = await send(
      vertexPath(VERTEX_MODEL, 'rawPredict'),
      { authorization: 'Bearer ya29.made-up' },
      vertexBody('hi'),
    );
    expect(unknown.status).toBe(401);
    expect(unknown.json()).toEqual({
      error: {
        code: 401,
        message: expect.stringContaining('invalid authentication credentials'),
        status: 'UNAUTHENTICATED',
      },
    });

    const client = googleClient();
    const headers = await bearer(client);
    offsetMs = (TOKEN_TTL_SECONDS + 1) * 1000;
    const expired = await send(vertexPath(VERTEX_MODEL, 'rawPredict'), headers, vertexBody('hi'));
    expect(expired.status).toBe(401);

    await client.refreshAccessToken();
    const refreshed = await send(
      vertexPath(VERTEX_MODEL, 'rawPredict'),
      await bearer(client),
      vertexBody('hi'),
    );
    expect(refreshed.status).toBe(200);
  });

  it.each([
    [
      429,
      'rate_limit_error',
      { error: { code: 429, message: expect.any(String), status: 'RESOURCE_EXHAUSTED' } },
    ],
    [
      503,
      'api_error',
      { error: { code: 503, message: expect.any(String), status: 'UNAVAILABLE' } },
    ],
    [
      529,
      'overloaded_error',
      {
        type: 'error',
        error: { type: 'overloaded_error', message: expect.any(String) },
        request_id: expect.any(String),
      },
    ],
  ])('answers a %i fault for Vertex in Vertex’s shape', async (status, errorType, body) => {
    sim.faults.add({
      action: {
        kind: 'error',
        status,
        errorType,
        retryAfterSeconds: undefined,
        inStream: undefined,
      },
      latencyMs: 0,
      rate: 1,
      count: undefined,
      provider: 'vertex',
    });
    const client = googleClient();
    const answer = await send(
      vertexPath(VERTEX_MODEL, 'rawPredict'),
      await bearer(client),
      vertexBody('hi'),
    );
    expect(answer.status).toBe(status);
    expect(answer.json()).toEqual(body);
    expect(sim.stats.snapshot().byProvider.vertex.byOutcome[`error_${status}`]).toBe(1);
  });
});

describe('prompt caching on every wire', () => {
  const SYSTEM = 'Answer from the tide tables. '.repeat(160);
  const cachedBody = (question: string) => ({
    max_tokens: 64,
    system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: question }],
  });
  interface WireUsage {
    input_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
    cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  }
  const usageOf = (answer: Answer) => (answer.json() as { usage: WireUsage }).usage;

  it('writes a prefix on one key, reads it back on the same key only, plain and streamed', async () => {
    const sdk = (apiKey: string) => new Anthropic({ baseURL: url, apiKey, maxRetries: 0 });
    const body = { model: 'claude-sonnet-4-6', ...cachedBody('high water?') } as const;
    const first = await sdk('key-one').messages.create(
      body as Anthropic.MessageCreateParamsNonStreaming,
    );
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(first.usage.cache_creation_input_tokens).toBe(Math.ceil(SYSTEM.length / 4));
    expect(first.usage.cache_creation?.ephemeral_5m_input_tokens).toBe(
      first.usage.cache_creation_input_tokens,
    );
    const streamed = await sdk('key-one')
      .messages.stream({
        ...body,
        messages: [{ role: 'user', content: 'low water?' }],
      } as Anthropic.MessageStreamParams)
      .finalMessage();
    expect(streamed.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(streamed.usage.cache_creation_input_tokens).toBe(0);
    const otherKey = await sdk('key-two').messages.create(
      body as Anthropic.MessageCreateParamsNonStreaming,
    );
    expect(otherKey.usage.cache_read_input_tokens).toBe(0);
  });

  it("reports Bedrock's cache reads in the body, its headers and the stream's invocation metrics", async () => {
    const body = { anthropic_version: 'bedrock-2023-05-31', ...cachedBody('berth 4?') };
    const first = await bedrock('invoke', body);
    const written = usageOf(first).cache_creation_input_tokens;
    expect(written).toBeGreaterThan(0);
    expect(first.headers['x-amzn-bedrock-cache-write-input-token-count']).toBe(String(written));
    const again = await bedrock('invoke', body);
    expect(usageOf(again).cache_read_input_tokens).toBe(written);
    expect(again.headers['x-amzn-bedrock-cache-read-input-token-count']).toBe(String(written));
    const streamed = await bedrock('invoke-with-response-stream', body);
    const last = (await frames(streamed.chunks)).at(-1);
    const stop = JSON.parse(
      Buffer.from(String(last?.payload['bytes']), 'base64').toString('utf8'),
    ) as { 'amazon-bedrock-invocationMetrics': { cacheReadInputTokenCount: number } };
    expect(stop['amazon-bedrock-invocationMetrics'].cacheReadInputTokenCount).toBe(written);
  });

  it('expires a five-minute prefix five minutes after its last read', async () => {
    const body = { anthropic_version: 'bedrock-2023-05-31', ...cachedBody('berth 9?') };
    // Signed at the simulator's time, which this test shifts.
    const at = async (minutes: number) => {
      offsetMs = minutes * 60_000;
      const answer = await bedrock('invoke', body, {
        signingDate: new Date(Date.now() + offsetMs),
      });
      return usageOf(answer).cache_read_input_tokens;
    };
    expect(await at(0)).toBe(0);
    expect(await at(4)).toBeGreaterThan(0);
    expect(await at(8.9)).toBeGreaterThan(0);
    expect(await at(14)).toBe(0);
  });
});
