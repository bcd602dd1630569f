/**
 * Checks a policy document read from the ConfigMap (or anywhere outside this process)
 * before the runtime swaps it in. The first problem found is reported with its field path,
 * e.g. `circuitBreaker.successThreshold must be an integer from 1 to 100, got 0`; the
 * runtime then keeps its last good policy.
 *
 * Every setting's bounds come from the schema through the mapping table (documentFields.ts;
 * generated/documentBounds.ts holds them in the document's units): a manifest that never went through admission
 * (`--manifests`, a hand-written `--policy` file) is held to what the API server would have
 * admitted, and the guard builds whatever passes without a check of its own.
 */
import {
  AGENT_DEPLOYMENT_LIMITS as AGENT,
  CIRCUIT_BREAKER_POLICY_LIMITS as BREAKER,
  RATE_LIMIT_POLICY_LIMITS as RATE,
} from '../api/specLimits.ts';
import type { FieldLimits } from '../api/fieldLimits.ts';
import { DOCUMENT_BOUNDS as BOUNDS } from './generated/documentBounds.ts';
import { POLICY_DOCUMENT_VERSION, policyHash, type PolicyDocument } from './policyDocument.ts';
import {
  PolicyInvalid,
  fail,
  obj,
  optObj,
  str,
  url,
  int,
  bounded,
  durationMs,
  oneOf,
  arr,
  checkSection,
  type Json,
} from './documentChecks.ts';
import { checkPricing, checkSpend } from './spendChecks.ts';

export type ParsedPolicy =
  | { readonly ok: true; readonly doc: PolicyDocument; readonly hash: string }
  | { readonly ok: false; readonly error: string };

function checkBreaker(v: unknown, at = 'circuitBreaker'): void {
  const b = obj(v, at);
  checkSection(b, at, BOUNDS.breaker['']);
  // What the schema's rule says: the longest open time is at least the first.
  if (b.maxOpenDurationMs !== undefined)
    int(b.maxOpenDurationMs, `${at}.maxOpenDurationMs`, b.openDurationMs as number, Infinity);
  const rate = optObj(b.failureRate, `${at}.failureRate`);
  if (rate !== undefined) {
    const path = `${at}.failureRate`;
    checkSection(rate, path, BOUNDS.breaker.failureRate);
    const window = obj(rate.window, `${path}.window`);
    const type = oneOf(window.type, `${path}.window.type`, BREAKER['failureRate.window.type']);
    const bounds = type === 'Count' ? BOUNDS.breaker.countWindow : BOUNDS.breaker.timeWindow;
    checkSection(window, `${path}.window`, bounds);
    // The schema's rules, which admission applies and a manifest run never went through.
    if (type === 'Count' && (rate.minimumCalls as number) > (window.size as number))
      fail(
        `${path}.minimumCalls`,
        'must not exceed window.size for a Count window, or the rate is never evaluated',
        rate.minimumCalls,
      );
  }
  if ((b.successThreshold as number) < (b.halfOpenMaxCalls as number))
    fail(
      `${at}.successThreshold`,
      'must be at least halfOpenMaxCalls: probes beyond the successes needed to close only add load to a recovering provider',
      b.successThreshold,
    );
  const slow = optObj(b.slowCall, `${at}.slowCall`);
  if (slow !== undefined) checkSection(slow, `${at}.slowCall`, BOUNDS.breaker.slowCall);
  const override = obj(b.override, `${at}.override`);
  oneOf(override.state, `${at}.override.state`, BREAKER['override.state']);
  if (override.reason !== undefined)
    str(override.reason, `${at}.override.reason`, BREAKER['override.reason']);
  else if (override.state !== 'Auto')
    fail(
      `${at}.override.reason`,
      'is required when state is ForcedOpen or ForcedClosed',
      undefined,
    );
  if (override.untilMs !== undefined)
    int(override.untilMs, `${at}.override.untilMs`, 0, Number.MAX_SAFE_INTEGER);
  const loops = optObj(b.loopDetection, `${at}.loopDetection`);
  if (loops !== undefined) checkSection(loops, `${at}.loopDetection`, BOUNDS.breaker.loopDetection);
}

function checkRateLimit(v: unknown): void {
  const r = obj(v, 'rateLimit');
  checkSection(r, 'rateLimit', BOUNDS.rateLimit['']);
  int(r.shareOf, 'rateLimit.shareOf', 1, AGENT.replicas.maximum);
  const requests = optObj(r.requests, 'rateLimit.requests');
  if (requests !== undefined)
    checkSection(requests, 'rateLimit.requests', BOUNDS.rateLimit.requests);
  const tokens = optObj(r.tokens, 'rateLimit.tokens');
  if (tokens !== undefined) {
    if (Object.keys(tokens).length < RATE.tokens.minProperties)
      fail('rateLimit.tokens', 'must set one per-minute budget or both', tokens);
    checkSection(tokens, 'rateLimit.tokens', BOUNDS.rateLimit.tokens);
  }
  const concurrency = optObj(r.concurrency, 'rateLimit.concurrency');
  if (concurrency !== undefined)
    checkSection(concurrency, 'rateLimit.concurrency', BOUNDS.rateLimit.concurrency);
  checkSection(
    obj(r.adaptive, 'rateLimit.adaptive'),
    'rateLimit.adaptive',
    BOUNDS.rateLimit.adaptive,
  );
  // Reject never waits: its maxWaitMs is 0, as the resolver writes it.
  if (r.onLimit === 'Wait') durationMs(r.maxWaitMs, 'rateLimit.maxWaitMs', RATE.maxWait);
  else int(r.maxWaitMs, 'rateLimit.maxWaitMs', 0, 0);
  const store = optObj(r.store, 'rateLimit.store');
  if (store !== undefined) checkStore(store);
  if (r.spend !== undefined) checkSpend(r.spend, store);
}

/** The store's settings; `sharing` is already resolved into `keyPrefix`. */
function checkStore(store: Json): void {
  checkRedis(store.redis, 'rateLimit.store.redis', (field) => RATE[`store.redis.${field}`]);
  checkSection(store, 'rateLimit.store', BOUNDS.rateLimit.store);
  str(store.keyPrefix, 'rateLimit.store.keyPrefix');
  if (store.teamKeyPrefix !== undefined) str(store.teamKeyPrefix, 'rateLimit.store.teamKeyPrefix');
}

type RedisField =
  | 'address'
  | 'sentinel.masterName'
  | 'sentinel.addresses'
  | 'sentinel.addresses[]'
  | 'sentinel.passwordSecretRef.name'
  | 'sentinel.passwordSecretRef.key'
  | 'cluster.addresses'
  | 'cluster.addresses[]'
  | 'username'
  | 'passwordSecretRef.name'
  | 'passwordSecretRef.key'
  | 'tls.caSecretRef.name'
  | 'tls.caSecretRef.key'
  | 'tls.serverName'
  | 'acknowledge';

/** A RedisServer (common.defs.json) at `at`, each field within the bounds `limit` gives it. */
function checkRedis(v: unknown, at: string, limit: (field: RedisField) => FieldLimits): void {
  const redis = obj(v, at);
  if ([redis.address, redis.sentinel, redis.cluster].filter((x) => x !== undefined).length !== 1)
    fail(at, 'must set exactly one of address, sentinel and cluster', redis);
  if (redis.address !== undefined) str(redis.address, `${at}.address`, limit('address'));
  const sentinel = optObj(redis.sentinel, `${at}.sentinel`);
  if (sentinel !== undefined) checkSentinel(sentinel, `${at}.sentinel`, limit);
  const cluster = optObj(redis.cluster, `${at}.cluster`);
  if (cluster !== undefined)
    arr(cluster.addresses, `${at}.cluster.addresses`, limit('cluster.addresses')).forEach((a, i) =>
      str(a, `${at}.cluster.addresses[${String(i)}]`, limit('cluster.addresses[]')),
    );
  if (redis.username !== undefined) str(redis.username, `${at}.username`, limit('username'));
  if (redis.acknowledge !== undefined)
    oneOf(redis.acknowledge, `${at}.acknowledge`, limit('acknowledge'));
  const password = optObj(redis.passwordSecretRef, `${at}.passwordSecretRef`);
  if (password !== undefined) {
    str(password.name, `${at}.passwordSecretRef.name`, limit('passwordSecretRef.name'));
    str(password.key, `${at}.passwordSecretRef.key`, limit('passwordSecretRef.key'));
  }
  const tls = optObj(redis.tls, `${at}.tls`);
  if (tls === undefined) return;
  const ca = optObj(tls.caSecretRef, `${at}.tls.caSecretRef`);
  if (ca !== undefined) {
    str(ca.name, `${at}.tls.caSecretRef.name`, limit('tls.caSecretRef.name'));
    str(ca.key, `${at}.tls.caSecretRef.key`, limit('tls.caSecretRef.key'));
  }
  if (tls.serverName !== undefined)
    str(tls.serverName, `${at}.tls.serverName`, limit('tls.serverName'));
}

/** A RedisServer's `sentinel`: its master's name, 1 to 9 addresses, its own password. */
function checkSentinel(
  sentinel: Json,
  at: string,
  limit: (field: RedisField) => FieldLimits,
): void {
  str(sentinel.masterName, `${at}.masterName`, limit('sentinel.masterName'));
  arr(sentinel.addresses, `${at}.addresses`, limit('sentinel.addresses')).forEach((a, i) =>
    str(a, `${at}.addresses[${String(i)}]`, limit('sentinel.addresses[]')),
  );
  const password = optObj(sentinel.passwordSecretRef, `${at}.passwordSecretRef`);
  if (password === undefined) return;
  str(password.name, `${at}.passwordSecretRef.name`, limit('sentinel.passwordSecretRef.name'));
  str(password.key, `${at}.passwordSecretRef.key`, limit('sentinel.passwordSecretRef.key'));
}

/** `durability`: its store, retention, key Secret and key prefix. */
function checkDurability(v: unknown): void {
  const durability = obj(v, 'durability');
  const store = obj(durability.store, 'durability.store');
  checkRedis(
    store.redis,
    'durability.store.redis',
    (field) => AGENT[`durability.store.redis.${field}`],
  );
  checkSection(durability, 'durability', BOUNDS.agent.durability);
  const key = obj(durability.encryptionKeySecretRef, 'durability.encryptionKeySecretRef');
  str(
    key.name,
    'durability.encryptionKeySecretRef.name',
    AGENT['durability.encryptionKeySecretRef.name'],
  );
  str(
    key.key,
    'durability.encryptionKeySecretRef.key',
    AGENT['durability.encryptionKeySecretRef.key'],
  );
  str(durability.keyPrefix, 'durability.keyPrefix');
}

function checkBackend(b: unknown, path: string, models: readonly string[]): void {
  const backend = obj(b, path);
  str(backend.name, `${path}.name`, AGENT['backends[].name']);
  url(backend.baseURL, `${path}.baseURL`, AGENT['backends[].baseURL']);
  bounded(backend.weight, `${path}.weight`, AGENT['backends[].weight']);
  if (backend.priority !== undefined)
    bounded(backend.priority, `${path}.priority`, AGENT['backends[].priority']);
  const map = optObj(backend.models, `${path}.models`);
  if (map !== undefined) {
    const entries = Object.entries(map);
    const most = AGENT['backends[].models'].maxProperties;
    if (entries.length > most)
      fail(`${path}.models`, `must map at most ${most} models`, entries.length);
    for (const [model, id] of entries)
      str(id, `${path}.models.${model}`, AGENT['backends[].models{}']);
  }
  const type = oneOf(
    backend.type ?? AGENT['backends[].type'].default,
    `${path}.type`,
    AGENT['backends[].type'],
  );
  if (type === 'Anthropic') {
    str(backend.apiKeyEnv, `${path}.apiKeyEnv`);
    return;
  }
  str(backend.region, `${path}.region`, AGENT['backends[].region']);
  if (type === 'Vertex') str(backend.projectID, `${path}.projectID`, AGENT['backends[].projectID']);
  if (backend.credentialsSecret !== undefined)
    str(
      backend.credentialsSecret,
      `${path}.credentialsSecret`,
      AGENT['backends[].credentialsSecretRef.name'],
    );
  // What admission holds a Bedrock or Vertex backend to: it serves the agent's own models.
  for (const model of models) {
    if (map?.[model] === undefined)
      fail(
        `${path}.models`,
        `must map ${model} (a ${type} backend has no model of that name)`,
        map,
      );
  }
}

function checkMcpServer(m: unknown, path: string): void {
  const server = obj(m, path);
  str(server.name, `${path}.name`, AGENT['mcpServers[].name']);
  url(server.url, `${path}.url`, AGENT['mcpServers[].url']);
  if (server.headersSecret !== undefined)
    str(server.headersSecret, `${path}.headersSecret`, AGENT['mcpServers[].headersSecretRef.name']);
  if (server.tools !== undefined) {
    const tools = arr(server.tools, `${path}.tools`, AGENT['mcpServers[].tools']);
    tools.forEach((t, i) => {
      str(t, `${path}.tools[${i}]`, AGENT['mcpServers[].tools[]']);
      // A set in the schema (x-kubernetes-list-type: set): admission refuses a repeat.
      if (tools.indexOf(t) !== i) fail(`${path}.tools[${i}]`, 'must not repeat a tool', t);
    });
  }
  checkSection(server, path, BOUNDS.mcpServer['']);
  if (server.circuitBreaker !== undefined)
    checkBreaker(server.circuitBreaker, `${path}.circuitBreaker`);
}

function checkTool(t: unknown, path: string): void {
  const tool = obj(t, path);
  str(tool.name, `${path}.name`, AGENT['tools[].name']);
  url(tool.url, `${path}.url`, AGENT['tools[].url']);
  str(tool.description, `${path}.description`, AGENT['tools[].description']);
  obj(tool.inputSchema, `${path}.inputSchema`);
  checkSection(tool, path, BOUNDS.tool['']);
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
  str(model.name, 'model.name', AGENT['model.name']);
  arr(model.fallbacks, 'model.fallbacks', AGENT['model.fallbacks']).forEach((m, i) =>
    str(m, `model.fallbacks[${i}]`, AGENT['model.fallbacks[]']),
  );
  checkSection(model, 'model', BOUNDS.agent.model);
  // Unbounded here: systemPromptFrom's ConfigMap may hold a longer prompt than spec.systemPrompt.
  if (d.systemPrompt !== undefined) str(d.systemPrompt, 'systemPrompt', {});
  const backends = arr(d.backends, 'backends', AGENT.backends);
  if (backends.length === 0) fail('backends', 'must name at least one backend', backends);
  const models = [model.name as string, ...(model.fallbacks as string[])];
  backends.forEach((b, i) => {
    checkBackend(b, `backends[${i}]`, models);
  });
  checkSection(d, '', BOUNDS.agent['']);
  arr(d.tools, 'tools', AGENT.tools).forEach((t, i) => {
    checkTool(t, `tools[${i}]`);
  });
  if (d.mcpServers !== undefined)
    arr(d.mcpServers, 'mcpServers', AGENT.mcpServers).forEach((m, i) => {
      checkMcpServer(m, `mcpServers[${i}]`);
    });
  checkToolNamesApart(d);
  const retry = obj(d.retry, 'retry');
  checkSection(retry, 'retry', BOUNDS.agent.retry);
  // What the schema's rule says: the longest backoff is at least the first.
  int(retry.maxDelayMs, 'retry.maxDelayMs', retry.initialDelayMs as number, Infinity);
  checkBreaker(d.circuitBreaker);
  checkRateLimit(d.rateLimit);
  const access = obj(d.access, 'access');
  if (access.clientKeysSecret !== undefined)
    str(
      access.clientKeysSecret,
      'access.clientKeysSecret',
      AGENT['access.clientKeysSecretRef.name'],
    );
  checkSection(obj(d.cache, 'cache'), 'cache', BOUNDS.agent.cache);
  checkSection(obj(d.security, 'security'), 'security', BOUNDS.agent.security);
  checkSection(obj(d.audit, 'audit'), 'audit', BOUNDS.agent.audit);
  if (d.pricing !== undefined) checkPricing(d.pricing);
  if (d.durability !== undefined) checkDurability(d.durability);
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

/**
 * The model sees an MCP server's tools as `<server>__<tool>`: an HTTP tool named so would be
 * offered twice under one name (the provider refuses every call then) and share that tool's
 * breaker.
 */
function checkToolNamesApart(d: Json): void {
  const servers = ((d.mcpServers ?? []) as Json[]).map((m) => m.name as string);
  (d.tools as Json[]).forEach((t, i) => {
    const name = t.name as string;
    const server = servers.find((s) => name.startsWith(`${s}__`));
    if (server !== undefined)
      fail(
        `tools[${i}].name`,
        `must not start with "${server}__": the model sees MCP server ${server}'s tools by such names; rename the tool`,
        name,
      );
  });
}
