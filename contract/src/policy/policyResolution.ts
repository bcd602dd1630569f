/**
 * Resolves an AgentDeployment and the policies it references into one PolicyDocument.
 * The operator and the runtime's standalone mode both call this, so a policy behaves the
 * same whether it arrived through the cluster or from files. Pure: no I/O, no clock.
 *
 * Defaults repeat the schema's on purpose: the API server applies them on admission, but
 * manifests read from disk never went through it.
 */
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  CounterStore,
  RateLimitPolicy,
  RateLimitShare,
} from '../api/resources.ts';
import { parseDuration } from '../api/duration.ts';
import {
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  POLICY_DOCUMENT_VERSION,
  type BackendSettings,
  type BreakerSettings,
  type CounterStoreSettings,
  type PolicyDocument,
  type RateLimitSettings,
} from './policyDocument.ts';

export const DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const PROVIDER_API_KEY_ENV = 'ANTHROPIC_API_KEY';

/** Environment variable that carries backend `index`'s API key in the agent's pods. */
export const backendApiKeyEnv = (index: number): string => `BREAKWATER_BACKEND_${index}_API_KEY`;

/** Each environment variable the policy document names for a key, and the Secret key behind it. */
export function apiKeySources(
  agent: AgentDeployment,
): { readonly env: string; readonly secret: { readonly name: string; readonly key: string } }[] {
  const { provider, backends = [] } = agent.spec;
  const sources = [{ env: PROVIDER_API_KEY_ENV, secret: provider.apiKeySecretRef }];
  backends.forEach((backend, index) => {
    if (backend.apiKeySecretRef !== undefined)
      sources.push({ env: backendApiKeyEnv(index), secret: backend.apiKeySecretRef });
  });
  return sources;
}

export interface ResolveInputs {
  readonly agent: AgentDeployment;
  /** The referenced policies, when they exist; a missing one falls back to defaults. */
  readonly circuitBreakerPolicy?: CircuitBreakerPolicy | undefined;
  readonly rateLimitPolicy?: RateLimitPolicy | undefined;
  /** Text of `spec.systemPromptFrom`, read by the caller. */
  readonly systemPromptFromRef?: string | undefined;
  /** Ready replicas sharing a Cluster-scope limit; below 1 counts as 1. */
  readonly readyReplicas?: number | undefined;
}

export function resolvePolicy(inputs: ResolveInputs): PolicyDocument {
  const { agent } = inputs;
  const spec = agent.spec;
  const systemPrompt = spec.systemPrompt ?? inputs.systemPromptFromRef;
  const temperature = spec.model.temperature;
  return {
    version: POLICY_DOCUMENT_VERSION,
    agent: {
      namespace: agent.metadata.namespace ?? 'default',
      name: agent.metadata.name ?? '',
      generation: agent.metadata.generation ?? 0,
    },
    model: {
      name: spec.model.name,
      fallbacks: spec.model.fallbacks ?? [],
      maxTokens: spec.model.maxTokens ?? 1024,
      ...(temperature === undefined ? {} : { temperature }),
    },
    ...(systemPrompt === undefined ? {} : { systemPrompt }),
    backends: resolveBackends(agent),
    loadBalancing: spec.loadBalancing ?? 'RoundRobin',
    tools: (spec.tools ?? []).map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema,
      url: tool.url,
      timeoutMs: parseDuration(tool.timeout ?? '10s'),
    })),
    timeoutMs: parseDuration(spec.timeout ?? '30s'),
    streamIdleTimeoutMs:
      spec.streamIdleTimeout === undefined
        ? DEFAULT_STREAM_IDLE_TIMEOUT_MS
        : parseDuration(spec.streamIdleTimeout),
    ...(spec.maxStreamDuration === undefined
      ? {}
      : { maxStreamDurationMs: parseDuration(spec.maxStreamDuration) }),
    retry: {
      maxAttempts: spec.retry?.maxAttempts ?? 3,
      initialDelayMs: parseDuration(spec.retry?.backoff?.initialDelay ?? '500ms'),
      maxDelayMs: parseDuration(spec.retry?.backoff?.maxDelay ?? '30s'),
    },
    circuitBreaker: resolveBreaker(inputs.circuitBreakerPolicy),
    rateLimit: resolveRateLimit(
      inputs.rateLimitPolicy,
      inputs.readyReplicas ?? 1,
      agent.metadata.name ?? '',
    ),
    access: clientKeysSecret(agent),
    cache: {
      enabled: spec.cache?.enabled ?? false,
      maxEntries: spec.cache?.maxEntries ?? 1000,
      ttlMs: parseDuration(spec.cache?.ttl ?? '5m'),
    },
    security: { promptInjection: spec.security?.promptInjection ?? 'Off' },
    audit: { enabled: spec.audit?.enabled ?? false },
    // Written only when off, so that documents (and their hashes) stay as they were by default.
    ...(spec.monitoring?.debugEndpoints === false ? { debugEndpoints: false as const } : {}),
  };
}

function clientKeysSecret(agent: AgentDeployment): PolicyDocument['access'] {
  const name = agent.spec.access?.clientKeysSecretRef?.name;
  return name === undefined ? {} : { clientKeysSecret: name };
}

/** `provider` is the backend named "default" unless `backends` lists its own. */
function resolveBackends(agent: AgentDeployment): BackendSettings[] {
  const { provider, backends } = agent.spec;
  if (backends === undefined || backends.length === 0) {
    return [
      {
        name: 'default',
        baseURL: provider.baseURL ?? DEFAULT_BASE_URL,
        apiKeyEnv: PROVIDER_API_KEY_ENV,
        weight: 1,
      },
    ];
  }
  return backends.map((backend, index) => ({
    name: backend.name,
    baseURL: backend.baseURL,
    apiKeyEnv:
      backend.apiKeySecretRef === undefined ? PROVIDER_API_KEY_ENV : backendApiKeyEnv(index),
    weight: backend.weight ?? 1,
  }));
}

export function resolveBreaker(policy: CircuitBreakerPolicy | undefined): BreakerSettings {
  const spec = policy?.spec ?? {};
  const openDurationMs = parseDuration(spec.openDuration ?? '60s');
  const rate = spec.failureRate;
  const windowType = rate?.window?.type ?? 'Count';
  const until = spec.override?.until;
  const reason = spec.override?.reason;
  const generation = policy?.metadata.generation;
  return {
    ...(policy?.metadata.name === undefined ? {} : { policyName: policy.metadata.name }),
    ...(generation === undefined ? {} : { policyGeneration: generation }),
    failureThreshold: spec.failureThreshold ?? 5,
    successThreshold: spec.successThreshold ?? 2,
    openDurationMs,
    ...(spec.maxOpenDuration === undefined
      ? {}
      : { maxOpenDurationMs: parseDuration(spec.maxOpenDuration) }),
    halfOpenMaxCalls: spec.halfOpenMaxCalls ?? 1,
    ...(rate === undefined
      ? {}
      : {
          failureRate: {
            thresholdPercent: rate.thresholdPercent,
            minimumCalls: rate.minimumCalls ?? 10,
            // A Time window's size is in seconds, as in the schema.
            window:
              windowType === 'Count'
                ? { type: 'Count' as const, size: rate.window?.size ?? 100 }
                : { type: 'Time' as const, sizeMs: (rate.window?.size ?? 100) * 1000 },
          },
        }),
    ...(spec.slowCall === undefined
      ? {}
      : {
          slowCall: {
            durationMs: parseDuration(spec.slowCall.duration),
            thresholdPercent: spec.slowCall.thresholdPercent,
          },
        }),
    failOn: spec.failOn ?? ['ServerError', 'Overloaded', 'Timeout', 'ConnectionError'],
    override: {
      state: spec.override?.state ?? 'Auto',
      ...(reason === undefined ? {} : { reason }),
      ...(until === undefined ? {} : { untilMs: Date.parse(until) }),
    },
    mode: spec.mode ?? 'Enforce',
  };
}

/**
 * Per-replica numbers. For Cluster scope each ready replica gets an equal share, rounded
 * down but never below what keeps a replica working (one request of burst, one concurrent
 * call): a share of zero would turn a tight limit into an outage.
 */
export function resolveRateLimit(
  policy: RateLimitPolicy | undefined,
  readyReplicas: number,
  agentName = '',
): RateLimitSettings {
  const spec = policy?.spec ?? {};
  const scope = spec.scope ?? 'PerReplica';
  const shareOf = scope === 'Cluster' ? Math.max(1, Math.floor(readyReplicas)) : 1;
  const share = (total: number, floor: number): number => Math.max(floor, total / shareOf);
  const whole = (total: number, floor: number): number =>
    Math.max(floor, Math.floor(total / shareOf));
  const { requests, tokens, concurrency } = spec;
  const onLimit = spec.onLimit ?? 'Reject';
  return {
    ...(policy?.metadata.name === undefined ? {} : { policyName: policy.metadata.name }),
    scope,
    shareOf,
    ...(requests === undefined
      ? {}
      : {
          requests: {
            perSecond: roundRate(share(requests.perSecond, 0.001)),
            burst: whole(requests.burst, 1),
          },
        }),
    ...(tokens === undefined
      ? {}
      : {
          tokens: {
            ...(tokens.inputPerMinute === undefined
              ? {}
              : { inputPerMinute: whole(tokens.inputPerMinute, 1) }),
            ...(tokens.outputPerMinute === undefined
              ? {}
              : { outputPerMinute: whole(tokens.outputPerMinute, 1) }),
          },
        }),
    ...(concurrency === undefined
      ? {}
      : {
          concurrency: {
            maxConcurrent: whole(concurrency.maxConcurrent, 1),
            maxQueue: whole(concurrency.maxQueue ?? 100, 0),
            queueTimeoutMs: parseDuration(concurrency.queueTimeout ?? '10s'),
          },
        }),
    adaptive: {
      honorRetryAfter: spec.adaptive?.honorRetryAfter ?? true,
      providerHeaders: spec.adaptive?.providerHeaders ?? true,
    },
    onLimit,
    maxWaitMs: onLimit === 'Wait' && spec.maxWait !== undefined ? parseDuration(spec.maxWait) : 0,
    mode: spec.mode ?? 'Enforce',
    ...(policy === undefined || spec.store === undefined
      ? {}
      : { store: resolveCounterStore(policy, spec.store, agentName) }),
  };
}

/**
 * The shared store's settings: the policy's numbers as written (the whole agent's, or every
 * agent's with sharing AllAgents) and the key prefix that says whose counters they are.
 */
function resolveCounterStore(
  policy: RateLimitPolicy,
  store: CounterStore,
  agentName: string,
): CounterStoreSettings {
  const { redis } = store;
  const { requests, tokens } = policy.spec;
  const owner = `${policy.metadata.namespace ?? 'default'}/${policy.metadata.name ?? ''}`;
  const perAgent = (store.sharing ?? 'PerAgent') === 'PerAgent';
  return {
    redis: {
      address: redis.address,
      ...(redis.username === undefined ? {} : { username: redis.username }),
      ...(redis.passwordSecretRef === undefined
        ? {}
        : { passwordSecretRef: { ...redis.passwordSecretRef } }),
      ...(redis.tls?.enabled === true
        ? {
            tls: {
              ...(redis.tls.caSecretRef === undefined
                ? {}
                : { caSecretRef: { ...redis.tls.caSecretRef } }),
              ...(redis.tls.serverName === undefined ? {} : { serverName: redis.tls.serverName }),
            },
          }
        : {}),
    },
    waitBudgetMs: parseDuration(store.waitBudget ?? '5ms'),
    keyPrefix: `breakwater:{${perAgent ? `${owner}/${agentName}` : owner}}`,
    ...(requests === undefined
      ? {}
      : { requests: { perSecond: requests.perSecond, burst: requests.burst } }),
    ...(tokens === undefined ? {} : { tokens: { ...tokens } }),
  };
}

/** The per-replica numbers as RateLimitPolicy.status.effective shows them. */
export function effectiveShare(settings: RateLimitSettings): RateLimitShare {
  const share: RateLimitShare = { replicas: settings.shareOf };
  if (settings.requests !== undefined) {
    share.requestsPerSecond = settings.requests.perSecond;
    share.burst = settings.requests.burst;
  }
  if (settings.tokens?.inputPerMinute !== undefined)
    share.inputTokensPerMinute = settings.tokens.inputPerMinute;
  if (settings.tokens?.outputPerMinute !== undefined)
    share.outputTokensPerMinute = settings.tokens.outputPerMinute;
  if (settings.concurrency !== undefined) {
    share.maxConcurrent = settings.concurrency.maxConcurrent;
    share.maxQueue = settings.concurrency.maxQueue;
  }
  return share;
}

/** Three decimals are plenty for a rate and keep the hash stable across float noise. */
function roundRate(value: number): number {
  return Math.round(value * 1000) / 1000;
}
