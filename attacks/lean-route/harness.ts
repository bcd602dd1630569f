/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Two runtimes on one simulator, one with BREAKWATER_LEAN_ROUTE=off, each on its own copy of
 * one policy file; helpers to send both the same call (with the same simulator fault before
 * each) and to compare what a caller, a dashboard and /debug see of the two.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { samplePolicyDocument } from '../../contract/src/policy/policyFixtures.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import {
  startSimulator,
  type FaultRequest,
  type SimulatorHandle,
} from '../../test/support/simulator.ts';

export { FALLBACK_MODEL, PRIMARY_MODEL };
export const KEY = 'bk-attack-client-key-0123456789abcdef';

export type Policy = ReturnType<typeof samplePolicyDocument> & Record<string, unknown>;

export function basePolicy(simUrl: string, extra: Partial<Policy> = {}): Policy {
  const doc = samplePolicyDocument();
  return {
    ...doc,
    model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
    backends: [{ name: 'default', baseURL: simUrl, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 }],
    retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
    access: { clientKeysSecret: 'attack-keys' },
    ...extra,
  };
}

export interface Pair {
  readonly sim: SimulatorHandle;
  readonly lean: RuntimeHandle;
  readonly long: RuntimeHandle;
  readonly files: { lean: string; long: string };
  stop(): Promise<void>;
}

export async function startPair(
  policyOf: (simUrl: string) => Policy,
  simOptions: Parameters<typeof startSimulator>[0] = {},
  env: Record<string, string> = {},
  envOf: (lean: boolean) => Record<string, string> = () => ({}),
): Promise<Pair> {
  const sim = await startSimulator({ seed: 61, ...simOptions });
  const dir = mkdtempSync(join(tmpdir(), 'bw-att61-'));
  const files = { lean: join(dir, 'lean.json'), long: join(dir, 'long.json') };
  const policy = policyOf(sim.url);
  writeFileSync(files.lean, JSON.stringify(policy));
  writeFileSync(files.long, JSON.stringify(policy));
  const start = (lean: boolean) =>
    startRuntime(['--policy', lean ? files.lean : files.long, '--log-level', 'warn'], {
      ANTHROPIC_API_KEY: 'sk-attack',
      BREAKWATER_CLIENT_KEYS: KEY,
      ...env,
      ...envOf(lean),
      // ATT61_CONTROL=long: both the long way, to see how much two runs differ by themselves.
      ...(lean && process.env['ATT61_CONTROL'] !== 'long' ? {} : { BREAKWATER_LEAN_ROUTE: 'off' }),
    });
  const [lean, long] = await Promise.all([start(true), start(false)]);
  return {
    sim,
    lean,
    long,
    files,
    async stop() {
      await Promise.all([lean.stop(), long.stop()]);
      await sim.stop();
    },
  };
}

export function writePolicy(pair: Pair, policy: Policy): void {
  writeFileSync(pair.files.lean, JSON.stringify(policy));
  writeFileSync(pair.files.long, JSON.stringify(policy));
}

export const scrub = (t: string): string =>
  t
    .replace(/"(id|request_id|signature)":"[^"]*"/g, '"$1":"*"')
    .replace(/(msg|req|toolu)_[A-Za-z0-9_-]+/g, '$1_*')
    .replace(/retry in \d+ ms/g, 'retry in N ms');

export interface Seen {
  status: number | string;
  headers: Record<string, string>;
  body: string;
}

export function seen(status: number, headers: Headers, text: string): Seen {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!['date', 'keep-alive', 'content-length'].includes(name)) kept[name] = value;
  });
  if (kept['request-id'] !== undefined) kept['request-id'] = scrub(kept['request-id']);
  return { status, headers: kept, body: scrub(text) };
}

export interface CallOptions {
  readonly path?: string;
  readonly method?: string;
  readonly key?: string | null;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  readonly rawBody?: string;
  /** Abort after this many ms (or after the first chunk when 'first-chunk'). */
  readonly abortAfterMs?: number | 'first-chunk';
}

export async function call(rt: RuntimeHandle, o: CallOptions): Promise<Seen> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  if (typeof o.abortAfterMs === 'number')
    timer = setTimeout(() => {
      ac.abort();
    }, o.abortAfterMs);
  try {
    const res = await fetch(`${rt.url}${o.path ?? '/v1/messages'}`, {
      method: o.method ?? 'POST',
      headers: {
        ...(o.method === 'GET' ? {} : { 'content-type': 'application/json' }),
        ...(o.key === null ? {} : { 'x-api-key': o.key ?? KEY }),
        'anthropic-version': '2023-06-01',
        ...o.headers,
      },
      ...(o.method === 'GET' ? {} : { body: o.rawBody ?? JSON.stringify(o.body) }),
      signal: ac.signal,
    });
    if (o.abortAfterMs === 'first-chunk') {
      const reader = res.body!.getReader();
      const first = (await reader.read()) as { value?: Uint8Array };
      ac.abort();
      const s = seen(res.status, res.headers, new TextDecoder().decode(first.value).slice(0, 40));
      s.body = `first chunk then abort: ${s.body.split('\n')[0]}`;
      return s;
    }
    const text = await res.text();
    return seen(res.status, res.headers, text);
  } catch (e) {
    return { status: `threw ${(e as Error).name}`, headers: {}, body: '' };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** The same call on both, the same fault set before each. */
export async function both(
  pair: Pair,
  o: CallOptions,
  fault?: FaultRequest | FaultRequest[],
): Promise<[Seen, Seen]> {
  const out: Seen[] = [];
  for (const rt of [pair.lean, pair.long]) {
    await pair.sim.clearFaults();
    for (const f of fault === undefined ? [] : Array.isArray(fault) ? fault : [fault])
      await pair.sim.addFault(f);
    out.push(await call(rt, o));
  }
  await pair.sim.clearFaults();
  return [out[0]!, out[1]!];
}

/** Every metric series but times: counters, gauges, histograms' _count (not _sum / _bucket of times). */
export function series(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    const name = line.slice(0, at);
    if (/^(process_|nodejs_)/.test(name)) continue;
    if (/(seconds|duration|latency|_ms)\w*_(sum|bucket)\b/.test(name)) continue;
    if (/uptime|timestamp|start_time|heap|memory|event_loop/i.test(name)) continue;
    out[name] = line.slice(at + 1);
  }
  return out;
}

export async function metricDiffs(pair: Pair): Promise<string[]> {
  const [a, b] = await Promise.all(
    [pair.lean.metrics(), pair.long.metrics()].map(async (p) => series(await p)),
  );
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(a!), ...Object.keys(b!)])].sort())
    if (a![k] !== b![k]) out.push(`metric ${k}: lean ${a![k]}, long ${b![k]}`);
  return out;
}

const volatile =
  /(At|Ms|Time|time|_at|since|until|Until|lastTransition|age|uptime|hash|Percentile|p50|p90|p99|p95|mean|max|min|sum)$/;

function normalise(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => normalise(v));
  if (typeof value === 'object' && value !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (
        [
          'messagesRoute',
          'leanCalls',
          'latencyHistogram',
          'requestTokens',
          'throughputPerSecond',
          'tokens',
          'tokenBudget',
        ].includes(k)
      )
        continue;
      o[k] = normalise(v, k);
    }
    return o;
  }
  if (typeof value === 'number' && volatile.test(key)) return '<t>';
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) return '<date>';
  return value;
}

export async function debugDiffs(
  pair: Pair,
  paths = ['/debug/breakers', '/debug/ratelimiter', '/debug/stats'],
): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const [a, b] = await Promise.all([pair.lean.debug(p), pair.long.debug(p)]);
    const na = JSON.stringify(normalise(a));
    const nb = JSON.stringify(normalise(b));
    if (na !== nb) out.push(`${p}: lean ${na}, long ${nb}`);
  }
  return out;
}

export function answerDiff(name: string, [a, b]: [Seen, Seen]): string[] {
  return JSON.stringify(a) === JSON.stringify(b)
    ? []
    : [`${name}: lean ${JSON.stringify(a)}, long ${JSON.stringify(b)}`];
}

export async function plan(pair: Pair): Promise<unknown[]> {
  return Promise.all(
    [pair.lean, pair.long].map(
      async (rt) =>
        ((await rt.debug('/debug/policy')) as { messagesRoute?: unknown }).messagesRoute,
    ),
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const plain = (content: string, extra: Record<string, unknown> = {}) => ({
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user', content }],
  ...extra,
});

/** What /metrics and /debug show of one runtime now, times taken out. */
export interface Snapshot {
  readonly series: Record<string, string>;
  readonly debug: Record<string, string>;
}

export async function snapshot(
  rt: RuntimeHandle,
  paths = ['/debug/breakers', '/debug/ratelimiter', '/debug/stats'],
): Promise<Snapshot> {
  const debug: Record<string, string> = {};
  for (const p of paths) debug[p] = JSON.stringify(normalise(await rt.debug(p)));
  return { series: series(await rt.metrics()), debug };
}

export function snapshotDiffs(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(a.series), ...Object.keys(b.series)])].sort())
    if (a.series[k] !== b.series[k])
      out.push(`metric ${k}: lean ${a.series[k]}, long ${b.series[k]}`);
  for (const k of Object.keys(a.debug))
    if (a.debug[k] !== b.debug[k]) out.push(`${k}: lean ${a.debug[k]}, long ${b.debug[k]}`);
  return out;
}

/** An OTLP/HTTP JSON receiver: the spans exported to it. */
export interface ExportedSpan {
  traceId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; attributes?: { key: string; value: Record<string, unknown> }[] }[];
  status?: { code?: number; message?: string };
}
export interface SpanSink {
  readonly url: string;
  readonly spans: ExportedSpan[];
  close(): Promise<void>;
}

export async function startSink(): Promise<SpanSink> {
  const { createServer } = await import('node:http');
  const spans: ExportedSpan[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
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
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () =>
      new Promise((r) =>
        server.close(() => {
          r();
        }),
      ),
  };
}

export const otelEnv = (sink: SpanSink): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_SERVICE_NAME: 'att61',
  OTEL_BSP_SCHEDULE_DELAY: '50',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
});

const attrs = (a: ExportedSpan['attributes']) =>
  Object.fromEntries(
    (a ?? [])
      .map(
        (x) =>
          [
            x.key,
            scrub(JSON.stringify(x.value)).replace(/"intValue":"?\d{4,}"?/g, '"intValue":N'),
          ] as const,
      )
      .sort(([x], [y]) => x.localeCompare(y)),
  );

/** A span without ids and times. */
export function spanSeen(s: ExportedSpan): unknown {
  return {
    name: s.name,
    kind: s.kind,
    parent: s.parentSpanId === undefined || s.parentSpanId === '' ? 'none' : s.parentSpanId.length,
    attributes: attrs(s.attributes),
    events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
    status: { code: s.status?.code ?? 0, message: scrub(s.status?.message ?? '') },
  };
}
