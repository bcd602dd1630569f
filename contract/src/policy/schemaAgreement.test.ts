/**
 * The schema and the runtime agree at every bound. For each bounded spec field of the three
 * schemas, a manifest with the field at its bound is admitted by the schema (ajv on the CRD's
 * schema, standing in for the API server; the CEL-stated duration bounds by the rule text the
 * API server evaluates) and runs in the runtime (resolvePolicy, then checkPolicyDocument: the
 * path of a manifest that never went through admission); one step beyond, both refuse it.
 * Fields the policy document does not carry are listed with the reason, so a new bounded field
 * cannot go unchecked.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import {
  inlineReferences,
  loadSchemaSet,
  mapSubschemas,
  type JsonSchema,
} from '../../../scripts/crdgen/schemaSet.ts';
import { specLimits } from '../../../scripts/crdgen/renderSpecLimits.ts';
import { BOUND_KEYWORDS, type FieldLimits } from '../api/fieldLimits.ts';
import { parseDuration } from '../api/duration.ts';
import type { AgentDeployment, CircuitBreakerPolicy, RateLimitPolicy } from '../api/resources.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../api/sampleModels.ts';
import { resolvePolicy } from './policyResolution.ts';
import { checkPolicyDocument } from './policyValidation.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const set = loadSchemaSet(join(root, 'crds/schemas'));
type Kind = 'AgentDeployment' | 'CircuitBreakerPolicy' | 'RateLimitPolicy';
type Json = Record<string, unknown>;

/** What the runtime does not see, and why its check has nothing to say about it. */
const NOT_IN_THE_DOCUMENT: Readonly<Record<string, string>> = {
  'AgentDeployment:systemPrompt':
    'the document holds systemPromptFrom text too, which may be longer than an inline prompt',
  'AgentDeployment:systemPromptFrom': 'the operator reads the ConfigMap; the document holds text',
  'AgentDeployment:provider.apiKeySecretRef': 'the document names an environment variable',
  'AgentDeployment:backends[].apiKeySecretRef': 'the document names an environment variable',
  'AgentDeployment:circuitBreakerPolicyRef':
    'resolved by the operator; the document holds the policy',
  'AgentDeployment:rateLimitPolicyRef': 'resolved by the operator; the document holds the policy',
  'AgentDeployment:mcpServers[].circuitBreakerPolicyRef':
    'resolved by the operator; the document holds the policy',
  'AgentDeployment:replicas': 'the Deployment, not the runtime',
  'AgentDeployment:autoscaling': 'the HorizontalPodAutoscaler, not the runtime',
  'AgentDeployment:access.networkPolicy': 'the NetworkPolicy, not the runtime',
  'AgentDeployment:monitoring.serviceMonitor': 'the ServiceMonitor, not the runtime',
  'AgentDeployment:agent': "the Deployment: the team's own container, not the runtime",
  'AgentDeployment:image': 'the Deployment, not the runtime',
  'AgentDeployment:resources': 'the Deployment, not the runtime',
  'AgentDeployment:env': 'the Deployment, not the runtime',
  'AgentDeployment:podTemplate': 'the Deployment, not the runtime',
  'AgentDeployment:terminationDrainDuration': 'the Deployment, not the runtime',
  'AgentDeployment:terminationGracePeriodSeconds': 'the Deployment, not the runtime',
  'RateLimitPolicy:store.sharing': 'resolved into the key prefix the document holds',
};

const BOUND_KEYS: readonly (keyof FieldLimits)[] = [
  ...BOUND_KEYWORDS.filter((k) => k !== 'exclusiveMinimum'),
  'minDuration',
  'maxDuration',
  'maximumWhen',
];
/** A valid object of each kind, to put one field at its bound in. */
function baseSpec(kind: Kind): Json {
  if (kind === 'AgentDeployment')
    return {
      model: { name: PRIMARY_MODEL },
      provider: { apiKeySecretRef: { name: 'anthropic', key: 'api-key' } },
    };
  if (kind === 'RateLimitPolicy')
    return {
      requests: { perSecond: 5, burst: 10 },
      // A store needs an address and the split as its fallback; its fields are set on this one.
      scope: 'Cluster',
      store: { redis: { address: 'redis.example:6379' } },
    };
  return {};
}

/** Containers a field lives in, with their required siblings. */
const CONTAINERS: Readonly<Record<string, Json>> = {
  'CircuitBreakerPolicy:failureRate': { thresholdPercent: 50 },
  'CircuitBreakerPolicy:failureRate.window': { type: 'Count', size: 100 },
  'CircuitBreakerPolicy:slowCall': { duration: '5s', thresholdPercent: 50 },
  'CircuitBreakerPolicy:override': { state: 'ForcedOpen', reason: 'incident' },
  'RateLimitPolicy:requests': { perSecond: 5, burst: 10 },
  'RateLimitPolicy:tokens': { inputPerMinute: 1000 },
  'RateLimitPolicy:concurrency': { maxConcurrent: 5 },
  'RateLimitPolicy:store.redis.passwordSecretRef': { name: 'redis', key: 'password' },
  // The document carries TLS settings only when TLS is on.
  'RateLimitPolicy:store.redis.tls': { enabled: true },
  'RateLimitPolicy:store.redis.tls.caSecretRef': { name: 'redis-ca', key: 'ca.crt' },
  'RateLimitPolicy:store.redis.sentinel': {
    masterName: 'breakwater',
    addresses: ['sentinel.example:26379'],
  },
  'RateLimitPolicy:store.redis.sentinel.passwordSecretRef': { name: 'sentinel', key: 'password' },
  'RateLimitPolicy:store.redis.cluster': { addresses: ['node.example:6379'] },
  // Vertex, the kind with the most fields the document checks (region, projectID, credentials,
  // the agent's model mapped); the probed field decides alone.
  'AgentDeployment:backends[]': {
    name: 'east',
    type: 'Vertex',
    baseURL: 'https://east.example',
    region: 'us-east5',
    projectID: 'my-project',
    models: { [PRIMARY_MODEL]: PRIMARY_MODEL },
  },
  'AgentDeployment:mcpServers[]': { name: 'github', url: 'https://mcp.example/mcp' },
  'AgentDeployment:tools[]': {
    name: 'lookup',
    description: 'Looks up an order.',
    inputSchema: { type: 'object' },
    url: 'https://orders.example/lookup',
  },
  'AgentDeployment:access.clientKeysSecretRef': { name: 'client-keys' },
  'AgentDeployment:pricing[]': {
    model: PRIMARY_MODEL,
    inputPerMTok: '3',
    outputPerMTok: '15',
    cacheWrite5mPerMTok: '3.75',
    cacheWrite1hPerMTok: '6',
    cacheReadPerMTok: '0.3',
  },
  'RateLimitPolicy:budgets[]': { name: 'monthly', period: 'Month', tokens: 1000 },
  'AgentDeployment:durability': {
    store: { redis: { address: 'redis.agents.svc:6379' } },
    encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
  },
  'AgentDeployment:durability.store.redis.passwordSecretRef': { name: 'redis', key: 'password' },
  'AgentDeployment:durability.store.redis.tls': { enabled: true },
  'AgentDeployment:durability.store.redis.tls.caSecretRef': { name: 'redis-ca', key: 'ca.crt' },
  'AgentDeployment:durability.store.redis.sentinel': {
    masterName: 'breakwater',
    addresses: ['sentinel.example:26379'],
  },
  'AgentDeployment:durability.store.redis.sentinel.passwordSecretRef': {
    name: 'sentinel',
    key: 'password',
  },
  'AgentDeployment:durability.store.redis.cluster': { addresses: ['node.example:6379'] },
};

/** A string of `length` the field's pattern accepts. */
function text(path: string, length: number): string {
  if (/url|baseURL/i.test(path)) {
    const prefix = 'https://example.com/';
    return prefix + 'a'.repeat(Math.max(0, length - prefix.length));
  }
  // host:port, as the schema's pattern wants; too short for a port, it fails the pattern too.
  if (
    path.endsWith('redis.address') ||
    path.endsWith('sentinel.addresses[]') ||
    path.endsWith('cluster.addresses[]')
  )
    return length >= 3 ? `${'a'.repeat(length - 2)}:1` : '1'.repeat(length);
  // A dollar amount: six decimals, and the rest of the length before the point.
  if (/usd|PerMTok$/.test(path))
    return length > 7 ? `${'1'.repeat(length - 7)}.${'1'.repeat(6)}` : '1'.repeat(length);
  return 'a'.repeat(length);
}

/** `count` distinct valid list items for the list at `path`. */
function items(kind: Kind, path: string, count: number): unknown[] {
  return Array.from({ length: count }, (_, i) => {
    if (path === 'failOn') {
      const classes = ['ServerError', 'Overloaded', 'Timeout', 'ConnectionError', 'RateLimited'];
      return classes[i % classes.length];
    }
    if (path === 'model.fallbacks') return i === 0 ? FALLBACK_MODEL : `claude-model-${i}`;
    if (path === 'mcpServers[].tools') return `tool-${i}`;
    if (path.endsWith('sentinel.addresses')) return `sentinel-${i}.example:26379`;
    if (path.endsWith('cluster.addresses')) return `node-${i}.example:6379`;
    // Prices are keyed by model, not by name.
    if (path === 'pricing') return { ...CONTAINERS['AgentDeployment:pricing[]'], model: `m-${i}` };
    const container = CONTAINERS[`${kind}:${path}[]`] ?? {};
    return { ...container, name: `item-${i}` };
  });
}

/** Fields that CEL ties to the probed one, set so that only the probed bound decides. */
function partners(spec: Json, path: string, value: unknown): void {
  const backoff = (): Json => {
    const retry = (spec.retry ??= {}) as Json;
    return (retry.backoff ??= {}) as Json;
  };
  if (path === 'retry.backoff.initialDelay') backoff().maxDelay = '10m';
  if (path === 'retry.backoff.maxDelay') backoff().initialDelay = '1ms';
  if (path === 'onLimit' && value === 'Wait') spec.maxWait = '1s';
  if (path === 'maxWait') spec.onLimit = 'Wait';
  // Written to the document with the budgets only (and admitted only with them).
  if (path === 'webSearchResultTokens')
    spec.budgets = [structuredClone(CONTAINERS['RateLimitPolicy:budgets[]'] ?? {})];
  // successThreshold ≥ halfOpenMaxCalls; minimumCalls ≤ a Count window's size (a Time window has no such rule).
  if (path === 'halfOpenMaxCalls') spec.successThreshold = value;
  if (path === 'successThreshold') spec.halfOpenMaxCalls = 1;
  const rate = () =>
    (spec.failureRate ??= { ...CONTAINERS['CircuitBreakerPolicy:failureRate'] }) as Json;
  if (path === 'failureRate.minimumCalls') rate().window = { type: 'Time', size: 60 };
  if (path === 'failureRate.window.size') rate().minimumCalls = 1;
  // A store's redis has an address, sentinels or a cluster, exactly one.
  if (path.startsWith('store.redis.sentinel.') || path.startsWith('store.redis.cluster.')) {
    const store = spec.store as { redis: Json };
    store.redis = {};
  }
  if (
    path.startsWith('durability.store.redis.sentinel.') ||
    path.startsWith('durability.store.redis.cluster.')
  )
    spec.durability = {
      ...CONTAINERS['AgentDeployment:durability'],
      store: { redis: {} },
    };
}

/** The spec with `value` at `path`, containers built on the way. */
function specWith(kind: Kind, path: string, value: unknown): Json {
  const spec = structuredClone(baseSpec(kind));
  partners(spec, path, value);
  const parts = path.split('.');
  let node: Json = spec;
  let at = '';
  for (const part of parts.slice(0, -1)) {
    const list = part.endsWith('[]');
    const key = list ? part.slice(0, -2) : part;
    at = at === '' ? key : `${at}.${key}`;
    if (list) {
      const item = structuredClone(CONTAINERS[`${kind}:${at}[]`] ?? {});
      node[key] = [item];
      node = item;
      at = `${at}[]`;
    } else {
      node[key] ??= structuredClone(CONTAINERS[`${kind}:${at}`] ?? {});
      node = node[key] as Json;
    }
  }
  const last = parts.at(-1) ?? '';
  if (last.endsWith('[]')) node[last.slice(0, -2)] = [value];
  // A map's value: the agent's own model mapped to it.
  else if (last.endsWith('{}')) node[last.slice(0, -2)] = { [PRIMARY_MODEL]: value };
  else node[last] = value;
  return spec;
}

/** OpenAPI v3's boolean exclusiveMinimum as ajv (draft 2019+) spells it. */
function forAjv(node: JsonSchema): JsonSchema {
  const { exclusiveMinimum, minimum, ...rest } = node;
  const bound =
    exclusiveMinimum === true
      ? { exclusiveMinimum: minimum }
      : minimum === undefined
        ? {}
        : { minimum };
  return mapSubschemas({ ...rest, ...bound }, forAjv);
}

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false });
const admits = new Map(
  set.kinds.map((kind) => [
    kind.crd.kind,
    ajv.compile(forAjv(inlineReferences(set, kind.schema, kind.file))),
  ]),
);

function manifests(kind: Kind, spec: Json) {
  const agentSpec = kind === 'AgentDeployment' ? spec : baseSpec('AgentDeployment');
  const agent = {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: { name: 'support', namespace: 'default' },
    spec: agentSpec,
  } as unknown as AgentDeployment;
  const policy = { apiVersion: 'breakwater.dev/v1alpha1', kind, metadata: { name: 'p' }, spec };
  return {
    object: kind === 'AgentDeployment' ? agent : policy,
    agent,
    circuitBreakerPolicy:
      kind === 'CircuitBreakerPolicy' ? (policy as unknown as CircuitBreakerPolicy) : undefined,
    rateLimitPolicy:
      kind === 'RateLimitPolicy' ? (policy as unknown as RateLimitPolicy) : undefined,
  };
}

function runtimeAccepts(kind: Kind, spec: Json): boolean {
  const { agent, circuitBreakerPolicy, rateLimitPolicy } = manifests(kind, spec);
  try {
    return checkPolicyDocument(resolvePolicy({ agent, circuitBreakerPolicy, rateLimitPolicy })).ok;
  } catch {
    return false;
  }
}

function schemaAdmits(kind: Kind, spec: Json): boolean {
  return admits.get(kind)?.(manifests(kind, spec).object) === true;
}

interface Probe {
  readonly bound: string;
  readonly admitted: unknown;
  readonly refused: unknown;
  /** Bounds the schema states in CEL, which ajv does not run: see the rule-text test below. */
  readonly cel?: boolean;
  /** A Time window's size: the spec's window type is Time for this probe. */
  readonly timeWindow?: boolean;
}

const ms = (duration: string): number => parseDuration(duration);

/** One probe per bound of a field: the value at the bound and the one past it. */
function probes(kind: Kind, path: string, limits: FieldLimits): Probe[] {
  const out: Probe[] = [];
  const integer = !['requests.perSecond', 'model.temperature'].includes(path);
  const step = integer ? 1 : 0.001;
  if (limits.maximum !== undefined)
    out.push({ bound: 'maximum', admitted: limits.maximum, refused: limits.maximum + step });
  if (limits.minimum !== undefined) {
    out.push(
      limits.exclusiveMinimum === true
        ? { bound: 'exclusiveMinimum', admitted: limits.minimum + step, refused: limits.minimum }
        : { bound: 'minimum', admitted: limits.minimum, refused: limits.minimum - step },
    );
  }
  if (limits.maxLength !== undefined && limits.maxDuration === undefined)
    out.push({
      bound: 'maxLength',
      admitted: text(path, limits.maxLength),
      refused: text(path, limits.maxLength + 1),
    });
  if (limits.minLength !== undefined && limits.minLength > 0 && !/url|baseURL/i.test(path))
    out.push({
      bound: 'minLength',
      admitted: text(path, limits.minLength),
      refused: text(path, limits.minLength - 1),
    });
  if (limits.maxItems !== undefined)
    out.push({
      bound: 'maxItems',
      admitted: items(kind, path, limits.maxItems),
      refused: items(kind, path, limits.maxItems + 1),
    });
  if (limits.minItems !== undefined)
    out.push({
      bound: 'minItems',
      admitted: items(kind, path, limits.minItems),
      refused: items(kind, path, limits.minItems - 1),
    });
  if (limits.minProperties !== undefined)
    out.push({ bound: 'minProperties', admitted: { outputPerMinute: 1 }, refused: {} });
  if (limits.enum !== undefined)
    for (const value of limits.enum)
      out.push({ bound: `enum ${String(value)}`, admitted: value, refused: `${String(value)}x` });
  if (limits.maxDuration !== undefined)
    out.push({
      bound: 'maxDuration',
      admitted: limits.maxDuration,
      refused: `${ms(limits.maxDuration) + 1}ms`,
      cel: true,
    });
  if (limits.minDuration !== undefined)
    out.push({
      bound: 'minDuration',
      admitted: limits.minDuration,
      refused: `${ms(limits.minDuration) - 1}ms`,
      cel: true,
    });
  if (limits.maximumWhen !== undefined)
    out.push({
      bound: 'maximumWhen',
      admitted: limits.maximumWhen.maximum,
      refused: limits.maximumWhen.maximum + 1,
      cel: true,
      timeWindow: true,
    });
  return out;
}

const KINDS: readonly Kind[] = ['AgentDeployment', 'CircuitBreakerPolicy', 'RateLimitPolicy'];

const bounded = KINDS.flatMap((kind) =>
  [...specLimits(set, kind)]
    .filter(([, limits]) => BOUND_KEYS.some((key) => limits[key] !== undefined))
    .map(([path, limits]) => ({ kind, path, limits })),
);

const outside = (kind: Kind, path: string): string | undefined =>
  Object.entries(NOT_IN_THE_DOCUMENT).find(([prefix]) => {
    const [k, p] = prefix.split(':');
    return (
      k === kind &&
      (path === p ||
        path.startsWith(`${p ?? ''}.`) ||
        path.startsWith(`${p ?? ''}[]`) ||
        path.startsWith(`${p ?? ''}{}`))
    );
  })?.[1];

/** A field a list or map entry stands for, whose probe needs the surrounding container built. */
const cases = bounded
  .filter(({ kind, path }) => outside(kind, path) === undefined)
  .flatMap(({ kind, path, limits }) =>
    probes(kind, path, limits).map((probe) => ({ kind, path, probe })),
  );

describe('the schema and the runtime at each bound', () => {
  it('walk every bounded field that reaches the policy document', () => {
    expect(cases.length).toBeGreaterThan(80);
  });

  it.each(cases.map((c) => [`${c.kind} spec.${c.path} ${c.probe.bound}`, c] as const))(
    '%s: the bound is admitted by both, one step past it by neither',
    (_name, { kind, path, probe }) => {
      const spec = (value: unknown): Json => {
        const s = specWith(kind, path, value);
        if (probe.timeWindow === true) (s.failureRate as { window: Json }).window.type = 'Time';
        return s;
      };
      const verdicts = {
        admitted: { runtime: runtimeAccepts(kind, spec(probe.admitted)), schema: true },
        refused: { runtime: runtimeAccepts(kind, spec(probe.refused)), schema: false },
      };
      if (probe.cel !== true) {
        verdicts.admitted.schema = schemaAdmits(kind, spec(probe.admitted));
        verdicts.refused.schema = schemaAdmits(kind, spec(probe.refused));
      }
      expect(verdicts).toEqual({
        admitted: { runtime: true, schema: true },
        refused: { runtime: false, schema: false },
      });
    },
  );
});

describe('bounds stated in CEL', () => {
  const celBounded = bounded.filter(
    ({ limits }) =>
      limits.minDuration !== undefined ||
      limits.maxDuration !== undefined ||
      limits.maximumWhen !== undefined,
  );

  it.each(celBounded.map((c) => [`${c.kind} spec.${c.path}`, c] as const))(
    '%s: the rule the API server runs states the bound the runtime reads',
    (_name, { kind, path, limits }) => {
      const found = set.kinds.find((k) => k.crd.kind === kind);
      const rules = JSON.stringify(found?.schema);
      if (limits.minDuration !== undefined)
        expect(rules).toContain(`duration(self) >= duration('${limits.minDuration}')`);
      if (limits.maxDuration !== undefined)
        expect(rules).toContain(`duration(self) <= duration('${limits.maxDuration}')`);
      if (limits.maximumWhen !== undefined)
        expect(rules).toContain(`self.size <= ${limits.maximumWhen.maximum}`);
      expect(path).not.toBe('');
    },
  );
});
