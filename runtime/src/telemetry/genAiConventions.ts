/**
 * OpenTelemetry's GenAI semantic conventions (all "Development") as Breakwater uses them:
 * who a backend is in their terms (`gen_ai.provider.name`, `server.address`, `server.port`),
 * a model call's span attributes, and the histograms' bucket boundaries. Pure: no I/O, no
 * clock; the span and metric code that uses it lives in tracing.ts and genAiMetrics.ts.
 */
import type { BackendType } from '../../../contract/src/policy/policyDocument.ts';
import type { ResponseMeta } from '../provider/responseMeta.ts';
import type { Usage } from '../provider/usage.ts';

/** `gen_ai.operation.name` of a Messages call. */
export const CHAT = 'chat';

/** The conventions' `gen_ai.provider.name` for each backend type. */
const PROVIDER_NAMES: Readonly<Record<BackendType, string>> = {
  Anthropic: 'anthropic',
  Bedrock: 'aws.bedrock',
  Vertex: 'gcp.vertex_ai',
};

/** `gen_ai.provider.name` of a backend type. */
export function providerName(type: BackendType): string {
  return PROVIDER_NAMES[type];
}

/** A backend as the conventions name it. */
export interface GenAiPeer {
  readonly provider: string;
  /** `server.address`: the host of the backend's base URL ('' when it has none). */
  readonly address: string;
  /** `server.port`, as text for metric labels ('' when there is no address). */
  readonly port: string;
}

export function genAiPeer(type: BackendType, baseURL: string): GenAiPeer {
  const provider = PROVIDER_NAMES[type];
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    return { provider, address: '', port: '' };
  }
  const port = url.port !== '' ? url.port : url.protocol === 'http:' ? '80' : '443';
  // An IPv6 host comes bracketed from URL; the attribute holds the address alone.
  return { provider, address: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

const peers = new WeakMap<object, GenAiPeer>();

/** The backend's peer, worked out once per backend object (a rebuilt backend is a new one). */
export function peerOf(backend: {
  readonly type: BackendType;
  readonly baseURL: string;
}): GenAiPeer {
  let peer = peers.get(backend);
  if (peer === undefined) {
    peer = genAiPeer(backend.type, backend.baseURL);
    peers.set(backend, peer);
  }
  return peer;
}

/**
 * `gen_ai.usage.input_tokens` counts every input token, cached or not, as the conventions
 * ask; the Messages API's `input_tokens` leaves out the cache's reads and writes, which are
 * added here (and reported on their own as well).
 */
export function inputTokensOf(usage: Usage): number {
  return (
    usage.input_tokens +
    (usage.cache_read_input_tokens ?? 0) +
    (usage.cache_creation_input_tokens ?? 0)
  );
}

/** The span name the conventions give a model call: `{operation} {request model}`. */
export function chatSpanName(model: string): string {
  return `${CHAT} ${model}`;
}

/** What a model call's client span starts with. */
export function chatRequestAttributes(request: {
  readonly model: string;
  readonly maxTokens: number | undefined;
  readonly peer: GenAiPeer;
}): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    'gen_ai.operation.name': CHAT,
    'gen_ai.provider.name': request.peer.provider,
    'gen_ai.request.model': request.model,
  };
  if (request.maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = request.maxTokens;
  if (request.peer.address !== '') {
    attributes['server.address'] = request.peer.address;
    attributes['server.port'] = Number(request.peer.port);
  }
  return attributes;
}

/**
 * Strings shorter than this are never slices of another in V8 (SlicedString::kMinLength): a
 * substring that short is a copy.
 */
const SLICE_MIN = 13;

/**
 * `text` as a string of its own. A substring V8 cuts from a longer one (`slice`, `substring`)
 * is a view that keeps the whole longer string alive: the answer's id and model are cut from
 * the answer's whole text (responseMeta.ts), so a span waiting for its batch held its answer,
 * up to OTEL_BSP_MAX_QUEUE_SIZE (2048) answers of any length while the Collector is slow, and
 * a metric series its first answer for good. A queued chat span holds about 0.8 KB of its own
 * (bench/results/HISTORY.md, telemetry, tel62). Prepending a character and cutting it off
 * again makes V8 flatten the two into a new string one longer, which the result is cut from.
 */
export function ownString(text: string): string {
  return text.length < SLICE_MIN ? text : (' ' + text).slice(1);
}

/** Where a model call's answer is written (a span). */
export interface AttributeTarget {
  setAttribute(key: string, value: string | number | string[]): unknown;
}

/**
 * What a model call's span gains from its answer: the response's model, id, stop reason,
 * usage; the strings its own (ownString), as the span outlives the answer. Set on `target` one
 * by one, in this order: a relayed call's span takes them straight, with no object built for
 * each answer to be walked again (issue 52's traced path, bench/results/HISTORY.md, tel63).
 */
export function setChatResponseAttributes(
  target: AttributeTarget,
  response: ResponseMeta | undefined,
  usage: Usage,
): void {
  target.setAttribute('gen_ai.usage.input_tokens', inputTokensOf(usage));
  target.setAttribute('gen_ai.usage.output_tokens', usage.output_tokens);
  const read = usage.cache_read_input_tokens;
  const written = usage.cache_creation_input_tokens;
  if (read !== undefined) target.setAttribute('gen_ai.usage.cache_read.input_tokens', read);
  if (written !== undefined)
    target.setAttribute('gen_ai.usage.cache_creation.input_tokens', written);
  if (response?.model !== undefined)
    target.setAttribute('gen_ai.response.model', ownString(response.model));
  if (response?.id !== undefined) target.setAttribute('gen_ai.response.id', ownString(response.id));
  if (response?.finishReason !== undefined)
    target.setAttribute('gen_ai.response.finish_reasons', [ownString(response.finishReason)]);
}

/** The conventions' ExplicitBucketBoundaries for each histogram. */
export const TOKEN_USAGE_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
export const OPERATION_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
export const TIME_TO_FIRST_TOKEN_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
export const TIME_PER_OUTPUT_TOKEN_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

/**
 * Whether `OTEL_SEMCONV_STABILITY_OPT_IN` asks for the latest experimental GenAI conventions
 * (`gen_ai_latest_experimental`, one of a comma-separated list): then the names the
 * conventions have added since (today the client's streaming metrics) are emitted as well.
 */
export function genAiLatestOptIn(env: Readonly<Record<string, string | undefined>>): boolean {
  const value = env['OTEL_SEMCONV_STABILITY_OPT_IN'];
  if (value === undefined) return false;
  return value.split(',').some((v) => v.trim() === 'gen_ai_latest_experimental');
}
