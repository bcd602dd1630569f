/**
 * The lean `/v1/messages` path (runtime/src/server/leanMessages.ts) answers, counts and traces
 * as the long way does. Runtime processes on one simulator, under the bench's kind of policy
 * (one backend, a fallback model, client keys): one of each pair with `BREAKWATER_LEAN_ROUTE=off`,
 * one pair without tracing and one exporting spans to a sink this test serves. Each is sent the
 * same calls in turn (plain, streamed, refused, retried, fallen back, cut) with the same
 * simulator fault before each, and the pair's two are compared: status, headers and body of
 * every answer (ids, dates and the serving request's id taken out), every metric series whose
 * value is a count, each call's `chat {model}` span (its attributes, events and status;
 * spans are matched by the caller's trace id, one a call), and what each call sent the
 * provider (each runtime's backend is a recording proxy in front of the simulator: how many
 * requests, their method, path, headers and body). `/debug/policy` says how many calls the
 * lean runtime served the lean way: those expected, traced or not.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { samplePolicyDocument } from '../../contract/src/policy/policyFixtures.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import {
  ONE_WRITE_STREAMS,
  startSimulator,
  type FaultRequest,
  type SimulatorHandle,
} from '../support/simulator.ts';
import { waitFor } from '../support/waitFor.ts';

const KEY = 'bk-parity-client-key-0123456789abcdef';

interface Step {
  readonly name: string;
  readonly fault?: FaultRequest;
  readonly key?: string;
  readonly headers?: Record<string, string>;
  readonly body: Record<string, unknown>;
  /** Sent instead of `body` as JSON: a body the server must refuse, or a size it must. */
  readonly raw?: string | Uint8Array;
  /** Served the lean way on the lean runtime (else: refused before, or the long way). */
  readonly lean: boolean;
  /** Taken ahead of fastify (frontMessages.ts) on the lean runtime: every step unless false. */
  readonly front?: false;
}

const plain = (content: string, extra: Record<string, unknown> = {}) => ({
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user', content }],
  ...extra,
});

// The breaker opens after five failures in a row: the calls that fail most come last, so that
// every call before them finds it closed.
const STEPS: readonly Step[] = [
  { name: 'plain', body: plain('What is a bulkhead?'), lean: true },
  {
    name: 'plain, max_tokens defaulted',
    body: { model: PRIMARY_MODEL, messages: [{ role: 'user', content: 'Hi' }] },
    lean: true,
  },
  { name: 'stream', body: plain('Stream me an answer.', { stream: true }), lean: true },
  {
    name: 'refused body',
    body: { model: PRIMARY_MODEL, max_tokens: 'x', messages: [] },
    lean: false,
  },
  { name: 'wrong key', key: 'bk-wrong', body: plain('Hi'), lean: false },
  // What a request ahead of fastify is refused for, answered as fastify's parser and error
  // handler answer it; and what it leaves to fastify, answered by fastify on both.
  { name: 'bad JSON', body: {}, raw: '{"model": ', lean: false },
  {
    name: 'bad UTF-8',
    body: {},
    raw: Buffer.concat([Buffer.from('{"model":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    lean: false,
  },
  { name: 'nested too deep', body: {}, raw: `${'['.repeat(300)}${']'.repeat(300)}`, lean: false },
  { name: 'a JSON array', body: {}, raw: '[1]', lean: false },
  { name: 'prototype poisoning', body: {}, raw: '{"__proto__":{"x":1}}', lean: false },
  {
    name: 'caller-given request id',
    headers: { 'x-request-id': 'caller-chosen-id-1' },
    body: plain('Mine.'),
    lean: true,
  },
  {
    name: 'caller-given request id, refused',
    key: 'bk-wrong',
    headers: { 'x-request-id': 'caller-chosen-id-2' },
    body: plain('Mine.'),
    lean: false,
  },
  {
    name: 'content-type not JSON (fastify)',
    headers: { 'content-type': 'text/plain' },
    body: plain('Plain text.'),
    lean: false,
    front: false,
  },
  {
    name: 'content-type with a charset (fastify)',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: plain('Charset.'),
    lean: true,
    front: false,
  },
  { name: 'empty body (fastify)', body: {}, raw: '', lean: false, front: false },
  {
    name: 'too large (fastify)',
    body: {},
    raw: `{"x":"${'a'.repeat(8 * 1024 * 1024)}"}`,
    lean: false,
    front: false,
  },
  {
    name: 'a query string (fastify)',
    headers: { 'x-front-path': '/v1/messages?beta=true' },
    body: plain('Query.'),
    lean: true,
    front: false,
  },
  {
    name: 'one 529, retried',
    fault: { status: 529, count: 1 },
    body: plain('Retry me.'),
    lean: true,
  },
  {
    name: 'stream fails before content',
    fault: { status: 529, count: 1, inStream: 'before-content' },
    body: plain('Stream, retried.', { stream: true }),
    lean: true,
  },
  {
    name: 'stream cut after content',
    fault: { status: 500, count: 1, inStream: 'after-content' },
    body: plain('Stream, cut.', { stream: true }),
    lean: true,
  },
  {
    name: 'provider 400, not retried',
    fault: { status: 400, count: 1 },
    body: plain('Bad.'),
    lean: true,
  },
  {
    name: 'the fallback model asked for by name',
    body: { ...plain('You, directly.'), model: FALLBACK_MODEL },
    lean: true,
  },
  {
    name: 'unknown model',
    body: { ...plain('Who?'), model: 'claude-nonexistent-0' },
    lean: true,
  },
  {
    name: 'names a durable run (durability off): the long way',
    headers: { 'breakwater-run-id': 'run-1', 'breakwater-run-attempt': '1' },
    body: plain('In a run.'),
    lean: false,
  },
  {
    name: 'primary down, fallback serves',
    fault: { status: 500, count: 3, model: PRIMARY_MODEL },
    body: plain('Fall back.'),
    lean: true,
  },
  { name: 'everything 500', fault: { status: 500, count: 6 }, body: plain('Fail.'), lean: true },
];

/** Each step's caller trace: the span of its call is found by this trace id. */
const traceIdOf = (index: number) => (index + 1).toString(16).padStart(32, 'a');
const CALLER_SPAN_ID = '00f067aa0ba902b7';

const scrub = (t: string) =>
  t
    .replace(/"(id|request_id)":"[^"]*"/g, '"$1":"*"')
    .replace(/(msg|req|toolu)_[A-Za-z0-9]+/g, '$1_*');

/**
 * What a caller sees of an answer, without what differs on every call: its own request id is
 * kept when the caller chose it.
 */
function seen(status: number, headers: Headers, text: string, given?: string): unknown {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name === 'request-id' && value === given) kept[name] = value;
    else if (!['date', 'request-id', 'keep-alive', 'content-length'].includes(name))
      kept[name] = value;
  });
  const mine = given === undefined ? text : text.replaceAll(`"${given}"`, '"GIVEN"');
  return { status, headers: kept, body: scrub(mine.replace('"request_id":"GIVEN"', '"mine":1')) };
}

/** Metric series whose values are counts, not times or sizes of time. */
function counts(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    // Each runtime's backend is its own recorder (its port), so its policy's hash differs too.
    const series = line
      .slice(0, at)
      .replace(/server_port="\d+"/, 'server_port="*"')
      .replace(/hash="[0-9a-f]+"/, 'hash="*"');
    if (/seconds|duration|latency|_ms|process_|nodejs_|uptime|timestamp|start_time/i.test(series))
      continue;
    out[series] = line.slice(at + 1);
  }
  return out;
}

interface ExportedSpan {
  traceId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; attributes?: { key: string; value: Record<string, unknown> }[] }[];
  status?: { code?: number; message?: string };
}

const valuesOf = (attributes: ExportedSpan['attributes']) =>
  Object.fromEntries(
    (attributes ?? [])
      .map(
        (a) =>
          // The backend's port is its recorder's (startPair).
          [a.key, a.key === 'server.port' ? '*' : scrub(JSON.stringify(a.value))] as const,
      )
      .sort(([a], [b]) => a.localeCompare(b)),
  );

/** A span without its ids and times. */
function spanSeen(span: ExportedSpan): unknown {
  return {
    name: span.name,
    kind: span.kind,
    parentSpanId: span.parentSpanId,
    attributes: valuesOf(span.attributes),
    events: (span.events ?? []).map((e) => ({ name: e.name, attributes: valuesOf(e.attributes) })),
    status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
  };
}

/** `server` listening on a loopback port: its URL, and a close that cuts its connections. */
async function listenLocally(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** An OTLP/HTTP JSON receiver: the spans exported to it. */
interface SpanSink {
  readonly url: string;
  readonly spans: ExportedSpan[];
  close(): Promise<void>;
}

async function startSink(): Promise<SpanSink> {
  const spans: ExportedSpan[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(text) as {
          resourceSpans?: { scopeSpans?: { spans?: ExportedSpan[] }[] }[];
        };
        for (const r of body.resourceSpans ?? [])
          for (const s of r.scopeSpans ?? []) spans.push(...(s.spans ?? []));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { ...(await listenLocally(server)), spans };
}

/** A provider request as the simulator would see it, without what differs on every call. */
interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A proxy in front of the simulator that records every request it passes on. */
interface Recorder {
  readonly url: string;
  readonly requests: UpstreamRequest[];
  close(): Promise<void>;
}

function upstreamHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers).sort(([a], [b]) => a.localeCompare(b))) {
    if (name === 'host' || name === 'connection') continue;
    // The caller's trace goes on; the span id in it is the runtime's own (or the caller's).
    const text = String(value);
    out[name] =
      name === 'traceparent' ? text.replace(/^(00-[0-9a-f]{32}-)[0-9a-f]{16}-/, '$1S-') : text;
  }
  return out;
}

async function startRecorder(target: string): Promise<Recorder> {
  const requests: UpstreamRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: upstreamHeaders(req.headers),
        body: body.toString('utf8'),
      });
      const up = httpRequest(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          // A provider's cut reaches the runtime as a cut.
          answer.on('error', () => res.destroy());
          answer.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      res.on('close', () => up.destroy());
      up.end(body);
    });
  });
  return { ...(await listenLocally(server)), requests };
}

interface Pair {
  readonly lean: RuntimeHandle;
  readonly long: RuntimeHandle;
  readonly sinks?: { readonly lean: SpanSink; readonly long: SpanSink };
  readonly upstream: { readonly lean: Recorder; readonly long: Recorder };
}

let sim: SimulatorHandle;
let dir: string;
let policy: Record<string, unknown>;
const runtimes: RuntimeHandle[] = [];
const sinks: SpanSink[] = [];
const recorders: Recorder[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 1, ...ONE_WRITE_STREAMS });
  dir = mkdtempSync(join(tmpdir(), 'bw-lean-route-'));
  const doc = samplePolicyDocument();
  policy = {
    ...doc,
    model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
    retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
    access: { clientKeysSecret: 'parity-keys' },
  };
});

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.stop()));
  await Promise.all(sinks.map((s) => s.close()));
  await Promise.all(recorders.map((r) => r.close()));
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startPair(traced: boolean): Promise<Pair> {
  const upstream = { lean: await startRecorder(sim.url), long: await startRecorder(sim.url) };
  recorders.push(upstream.lean, upstream.long);
  const start = async (lean: boolean, sink?: SpanSink) => {
    // Each runtime's backend is its own recorder in front of the one simulator.
    const file = join(dir, `policy-${traced ? 'traced' : 'plain'}-${lean ? 'lean' : 'long'}.json`);
    const backend = (lean ? upstream.lean : upstream.long).url;
    writeFileSync(
      file,
      JSON.stringify({
        ...policy,
        backends: [
          { name: 'default', baseURL: backend, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 },
        ],
      }),
    );
    const rt = await startRuntime(['--policy', file, '--log-level', 'warn'], {
      ANTHROPIC_API_KEY: 'sk-parity',
      BREAKWATER_CLIENT_KEYS: KEY,
      ...(lean ? {} : { BREAKWATER_LEAN_ROUTE: 'off' }),
      ...(sink === undefined
        ? {}
        : {
            OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
            OTEL_SERVICE_NAME: 'lean-route-test',
            OTEL_BSP_SCHEDULE_DELAY: '50',
            OTEL_METRICS_EXPORTER: 'none',
            OTEL_LOGS_EXPORTER: 'none',
          }),
    });
    runtimes.push(rt);
    return rt;
  };
  if (!traced) return { lean: await start(true), long: await start(false), upstream };
  const pairSinks = { lean: await startSink(), long: await startSink() };
  sinks.push(pairSinks.lean, pairSinks.long);
  return {
    lean: await start(true, pairSinks.lean),
    long: await start(false, pairSinks.long),
    sinks: pairSinks,
    upstream,
  };
}

/** Every difference between the pair's two, each naming the call or series it is in. */
async function differences(pair: Pair): Promise<string[]> {
  const found: string[] = [];
  /** Series compared, and those found differing (each named once, after the first call). */
  const compared = new Set<string>();
  const differing = new Set<string>();
  let upstreamRequests = 0;
  for (const [index, step] of STEPS.entries()) {
    const answers: unknown[] = [];
    const sentBefore = [pair.upstream.lean.requests.length, pair.upstream.long.requests.length];
    for (const rt of [pair.lean, pair.long]) {
      await sim.clearFaults();
      if (step.fault !== undefined) await sim.setFault(step.fault);
      const { 'x-front-path': path = '/v1/messages', ...headers } = step.headers ?? {};
      const res = await fetch(`${rt.url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': step.key ?? KEY,
          'anthropic-version': '2023-06-01',
          traceparent: `00-${traceIdOf(index)}-${CALLER_SPAN_ID}-01`,
          ...headers,
        },
        body: step.raw ?? JSON.stringify(step.body),
      });
      const text = await res.text();
      answers.push(seen(res.status, res.headers, text, headers['x-request-id']));
    }
    const [lean, long] = answers;
    if (JSON.stringify(lean) !== JSON.stringify(long))
      found.push(`${step.name}: lean ${JSON.stringify(lean)}, long ${JSON.stringify(long)}`);
    // What the call sent the provider: every attempt, as the simulator received it.
    const [leanSent, longSent] = [pair.upstream.lean, pair.upstream.long].map((r, i) =>
      JSON.stringify(r.requests.slice(sentBefore[i])),
    );
    upstreamRequests += pair.upstream.long.requests.length - (sentBefore[1] ?? 0);
    if (leanSent !== longSent)
      found.push(`${step.name} sent upstream: lean ${leanSent ?? ''}, long ${longSent ?? ''}`);
    // The counts after each call, so that a difference names the call that made it.
    await sim.clearFaults();
    for (const series of await countDifferences(pair, compared))
      if (!differing.has(series.name)) {
        differing.add(series.name);
        found.push(`after ${step.name}: ${series.text}`);
      }
  }
  // A comparison of something: the counts of every call, each kind of failure among them, and
  // the provider's side of the calls that reached it, retries and fallbacks included.
  expect(compared.size).toBeGreaterThan(100);
  expect(upstreamRequests).toBeGreaterThan(LEAN_CALLS);
  if (pair.sinks !== undefined) found.push(...(await spanDifferences(pair.sinks)));
  return found;
}

/** The metric series whose counts differ between the two now. */
async function countDifferences(
  pair: Pair,
  compared: Set<string>,
): Promise<{ name: string; text: string }[]> {
  const [lean, long] = await Promise.all(
    [pair.lean, pair.long].map(async (rt) => counts(await rt.metrics())),
  );
  const out: { name: string; text: string }[] = [];
  for (const name of new Set([...Object.keys(lean ?? {}), ...Object.keys(long ?? {})])) {
    compared.add(name);
    if (lean?.[name] !== long?.[name])
      out.push({ name, text: `metric ${name}: lean ${lean?.[name]}, long ${long?.[name]}` });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The calls that reach the provider's side have one span each; both runtimes' must match. */
async function spanDifferences(pairSinks: NonNullable<Pair['sinks']>): Promise<string[]> {
  // Every step but those refused before any work (the body, the key) makes one span.
  const expected = STEPS.map((_, index) => traceIdOf(index)).filter(
    (_, index) =>
      !['refused body', 'wrong key'].includes(STEPS[index]?.name ?? '') &&
      (STEPS[index]?.lean === true || STEPS[index]?.headers?.['breakwater-run-id'] !== undefined),
  );
  const byTrace = (sink: SpanSink) =>
    waitFor(
      () => {
        const traces = new Map<string, ExportedSpan[]>();
        for (const span of sink.spans)
          traces.set(span.traceId, [...(traces.get(span.traceId) ?? []), span]);
        const missing = expected.filter((id) => !traces.has(id));
        if (missing.length > 0) throw new Error(`no span yet for traces ${missing.join(', ')}`);
        return traces;
      },
      { timeoutMs: 15_000, intervalMs: 50, description: 'a span for every call' },
    );
  const [lean, long] = await Promise.all([byTrace(pairSinks.lean), byTrace(pairSinks.long)]);
  // A comparison of something: the retried call's span holds its failed attempt.
  const retried = long.get(traceIdOf(STEPS.findIndex((s) => s.name === 'one 529, retried')));
  expect(retried?.[0]?.events?.map((e) => e.name)).toEqual(['breakwater.attempt']);
  const found: string[] = [];
  for (const [index, step] of STEPS.entries()) {
    const id = traceIdOf(index);
    const leanSpans = (lean.get(id) ?? []).map(spanSeen);
    const longSpans = (long.get(id) ?? []).map(spanSeen);
    if (JSON.stringify(leanSpans) !== JSON.stringify(longSpans))
      found.push(
        `span of ${step.name}: lean ${JSON.stringify(leanSpans)}, long ${JSON.stringify(longSpans)}`,
      );
  }
  return found;
}

async function plansOf(pair: Pair): Promise<unknown[]> {
  return Promise.all(
    [pair.lean, pair.long].map(
      async (rt) =>
        ((await rt.debug('/debug/policy')) as { messagesRoute?: unknown }).messagesRoute,
    ),
  );
}

const LEAN_CALLS = STEPS.filter((s) => s.lean).length;
/** Every step but a durable run's and those left to fastify is taken ahead of it. */
const FRONT_REQUESTS = STEPS.filter(
  (s) => s.front !== false && s.headers?.['breakwater-run-id'] === undefined,
).length;

describe('the lean /v1/messages path against the long way (BREAKWATER_LEAN_ROUTE=off)', () => {
  it.each([
    ['without tracing', false],
    ['with spans exported', true],
  ])(
    '%s: the same answers, counts and spans, the lean one serving the calls it should',
    async (_, traced) => {
      const pair = await startPair(traced);
      expect(await differences(pair)).toEqual([]);
      expect(await plansOf(pair)).toEqual([
        { way: 'lean', leanCalls: LEAN_CALLS, frontRequests: FRONT_REQUESTS },
        { way: 'long', because: 'BREAKWATER_LEAN_ROUTE=off' },
      ]);
    },
  );
});
