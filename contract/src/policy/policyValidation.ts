/**
 * Checks a policy document read from the ConfigMap (or anywhere outside this process)
 * before the runtime swaps it in. The first problem found is reported with its field path,
 * e.g. `circuitBreaker.failureThreshold must be an integer from 1 to 1000, got 0`; the
 * runtime then keeps its last good policy.
 */
import { POLICY_DOCUMENT_VERSION, policyHash, type PolicyDocument } from './policyDocument.ts';

export type ParsedPolicy =
  | { readonly ok: true; readonly doc: PolicyDocument; readonly hash: string }
  | { readonly ok: false; readonly error: string };

class PolicyInvalid extends Error {}

type Json = Record<string, unknown>;

function fail(path: string, what: string, got: unknown): never {
  throw new PolicyInvalid(
    `${path} ${what}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`,
  );
}

function obj(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object', v);
  return v as Json;
}

function optObj(v: unknown, path: string): Json | undefined {
  return v === undefined ? undefined : obj(v, path);
}

function str(v: unknown, path: string, { empty = false } = {}): string {
  if (typeof v !== 'string' || (!empty && v === '')) fail(path, 'must be a non-empty string', v);
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `must be an integer from ${min} to ${max}`, v);
  }
  return v;
}

function num(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    fail(path, `must be a number from ${min} to ${max}`, v);
  }
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'must be true or false', v);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(path, `must be one of ${allowed.join(', ')}`, v);
  }
  return v as T;
}

function arr(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) fail(path, `must be a list of at most ${max} items`, v);
  return v as unknown[];
}

const DAY_MS = 86_400_000;

function checkBreaker(v: unknown): void {
  const b = obj(v, 'circuitBreaker');
  int(b.failureThreshold, 'circuitBreaker.failureThreshold', 1, 1000);
  int(b.successThreshold, 'circuitBreaker.successThreshold', 1, 1000);
  const open = int(b.openDurationMs, 'circuitBreaker.openDurationMs', 1, DAY_MS);
  if (b.maxOpenDurationMs !== undefined) {
    int(b.maxOpenDurationMs, 'circuitBreaker.maxOpenDurationMs', open, DAY_MS);
  }
  int(b.halfOpenMaxCalls, 'circuitBreaker.halfOpenMaxCalls', 1, 1000);
  const rate = optObj(b.failureRate, 'circuitBreaker.failureRate');
  if (rate !== undefined) {
    num(rate.thresholdPercent, 'circuitBreaker.failureRate.thresholdPercent', 1, 100);
    int(rate.minimumCalls, 'circuitBreaker.failureRate.minimumCalls', 1, 100_000);
    const window = obj(rate.window, 'circuitBreaker.failureRate.window');
    const type = oneOf(window.type, 'circuitBreaker.failureRate.window.type', ['Count', 'Time']);
    if (type === 'Count') int(window.size, 'circuitBreaker.failureRate.window.size', 1, 100_000);
    else int(window.sizeMs, 'circuitBreaker.failureRate.window.sizeMs', 1, DAY_MS);
  }
  const slow = optObj(b.slowCall, 'circuitBreaker.slowCall');
  if (slow !== undefined) {
    int(slow.durationMs, 'circuitBreaker.slowCall.durationMs', 1, DAY_MS);
    num(slow.thresholdPercent, 'circuitBreaker.slowCall.thresholdPercent', 1, 100);
  }
  arr(b.failOn, 'circuitBreaker.failOn', 5).forEach((c, i) =>
    oneOf(c, `circuitBreaker.failOn[${i}]`, [
      'ServerError',
      'Overloaded',
      'Timeout',
      'ConnectionError',
      'RateLimited',
    ]),
  );
  const override = obj(b.override, 'circuitBreaker.override');
  oneOf(override.state, 'circuitBreaker.override.state', ['Auto', 'ForcedOpen', 'ForcedClosed']);
  if (override.untilMs !== undefined)
    int(override.untilMs, 'circuitBreaker.override.untilMs', 0, Number.MAX_SAFE_INTEGER);
  oneOf(b.mode, 'circuitBreaker.mode', ['Enforce', 'Shadow']);
}

function checkRateLimit(v: unknown): void {
  const r = obj(v, 'rateLimit');
  oneOf(r.scope, 'rateLimit.scope', ['PerReplica', 'Cluster']);
  int(r.shareOf, 'rateLimit.shareOf', 1, 10_000);
  const requests = optObj(r.requests, 'rateLimit.requests');
  if (requests !== undefined) {
    num(requests.perSecond, 'rateLimit.requests.perSecond', 0.001, 1_000_000);
    num(requests.burst, 'rateLimit.requests.burst', 1, 10_000_000);
  }
  const tokens = optObj(r.tokens, 'rateLimit.tokens');
  if (tokens?.inputPerMinute !== undefined)
    num(tokens.inputPerMinute, 'rateLimit.tokens.inputPerMinute', 1, 1e10);
  if (tokens?.outputPerMinute !== undefined)
    num(tokens.outputPerMinute, 'rateLimit.tokens.outputPerMinute', 1, 1e10);
  const concurrency = optObj(r.concurrency, 'rateLimit.concurrency');
  if (concurrency !== undefined) {
    int(concurrency.maxConcurrent, 'rateLimit.concurrency.maxConcurrent', 1, 100_000);
    int(concurrency.maxQueue, 'rateLimit.concurrency.maxQueue', 0, 1_000_000);
    int(concurrency.queueTimeoutMs, 'rateLimit.concurrency.queueTimeoutMs', 0, DAY_MS);
  }
  const adaptive = obj(r.adaptive, 'rateLimit.adaptive');
  bool(adaptive.honorRetryAfter, 'rateLimit.adaptive.honorRetryAfter');
  bool(adaptive.providerHeaders, 'rateLimit.adaptive.providerHeaders');
  oneOf(r.onLimit, 'rateLimit.onLimit', ['Reject', 'Wait']);
  int(r.maxWaitMs, 'rateLimit.maxWaitMs', 0, DAY_MS);
  oneOf(r.mode, 'rateLimit.mode', ['Enforce', 'Shadow']);
}

function checkDocument(v: unknown): void {
  const d = obj(v, 'policy');
  if (d.version !== POLICY_DOCUMENT_VERSION)
    fail('version', `must be ${POLICY_DOCUMENT_VERSION}`, d.version);
  const agent = obj(d.agent, 'agent');
  str(agent.namespace, 'agent.namespace');
  str(agent.name, 'agent.name');
  int(agent.generation, 'agent.generation', 0, Number.MAX_SAFE_INTEGER);
  const model = obj(d.model, 'model');
  str(model.name, 'model.name');
  arr(model.fallbacks, 'model.fallbacks', 10).forEach((m, i) => str(m, `model.fallbacks[${i}]`));
  int(model.maxTokens, 'model.maxTokens', 1, 200_000);
  if (model.temperature !== undefined) num(model.temperature, 'model.temperature', 0, 1);
  if (d.systemPrompt !== undefined) str(d.systemPrompt, 'systemPrompt', { empty: true });
  const backends = arr(d.backends, 'backends', 16);
  if (backends.length === 0) fail('backends', 'must name at least one backend', backends);
  backends.forEach((b, i) => {
    const backend = obj(b, `backends[${i}]`);
    str(backend.name, `backends[${i}].name`);
    const url = str(backend.baseURL, `backends[${i}].baseURL`);
    if (!URL.canParse(url)) fail(`backends[${i}].baseURL`, 'must be an absolute URL', url);
    str(backend.apiKeyEnv, `backends[${i}].apiKeyEnv`);
    int(backend.weight, `backends[${i}].weight`, 0, 1000);
  });
  oneOf(d.loadBalancing, 'loadBalancing', ['RoundRobin', 'LeastLoaded', 'Weighted', 'Random']);
  arr(d.tools, 'tools', 64).forEach((t, i) => {
    const tool = obj(t, `tools[${i}]`);
    str(tool.name, `tools[${i}].name`);
    str(tool.description, `tools[${i}].description`, { empty: true });
    obj(tool.inputSchema, `tools[${i}].inputSchema`);
    const url = str(tool.url, `tools[${i}].url`);
    if (!URL.canParse(url)) fail(`tools[${i}].url`, 'must be an absolute URL', url);
    int(tool.timeoutMs, `tools[${i}].timeoutMs`, 1, DAY_MS);
  });
  int(d.timeoutMs, 'timeoutMs', 1, DAY_MS);
  if (d.streamIdleTimeoutMs !== undefined)
    int(d.streamIdleTimeoutMs, 'streamIdleTimeoutMs', 1, DAY_MS);
  if (d.maxStreamDurationMs !== undefined)
    int(d.maxStreamDurationMs, 'maxStreamDurationMs', 1, DAY_MS);
  const retry = obj(d.retry, 'retry');
  int(retry.maxAttempts, 'retry.maxAttempts', 1, 10);
  const initial = int(retry.initialDelayMs, 'retry.initialDelayMs', 0, DAY_MS);
  int(retry.maxDelayMs, 'retry.maxDelayMs', initial, DAY_MS);
  checkBreaker(d.circuitBreaker);
  checkRateLimit(d.rateLimit);
  const access = obj(d.access, 'access');
  if (access.clientKeysSecret !== undefined)
    str(access.clientKeysSecret, 'access.clientKeysSecret');
  const cache = obj(d.cache, 'cache');
  bool(cache.enabled, 'cache.enabled');
  int(cache.maxEntries, 'cache.maxEntries', 1, 100_000);
  int(cache.ttlMs, 'cache.ttlMs', 1, DAY_MS);
  oneOf(obj(d.security, 'security').promptInjection, 'security.promptInjection', [
    'Off',
    'Flag',
    'Block',
  ]);
  bool(obj(d.audit, 'audit').enabled, 'audit.enabled');
  if (d.debugEndpoints !== undefined && d.debugEndpoints !== false)
    fail('debugEndpoints', 'must be false or absent', d.debugEndpoints);
}

/** Parses and checks `text`; never throws. */
export function parsePolicyDocument(text: string): ParsedPolicy {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `policy is not valid JSON: ${(err as Error).message}` };
  }
  return checkPolicyDocument(value);
}

export function checkPolicyDocument(value: unknown): ParsedPolicy {
  try {
    checkDocument(value);
  } catch (err) {
    if (err instanceof PolicyInvalid) return { ok: false, error: err.message };
    throw err;
  }
  const doc = value as PolicyDocument;
  return { ok: true, doc, hash: policyHash(doc) };
}
