/**
 * Resolves an AgentDeployment and the policies it references into one PolicyDocument.
 * The operator and the runtime's standalone mode both call this, so a policy behaves the
 * same whether it arrived through the cluster or from files. Pure: no I/O, no clock.
 *
 * Defaults are the schema's (read from contract/src/api/specLimits.ts, generated from
 * it): the API server applies them on admission, but manifests read from disk never went
 * through it.
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
  AGENT_DEPLOYMENT_LIMITS as AGENT,
  CIRCUIT_BREAKER_POLICY_LIMITS as BREAKER,
  RATE_LIMIT_POLICY_LIMITS as RATE,
} from '../api/specLimits.ts';
import { resolveBackends } from './backendResolution.ts';
import {
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  POLICY_DOCUMENT_VERSION,
  type BreakerSettings,
  type CounterStoreSettings,
  type McpServerSettings,
  type PolicyDocument,
  type RateLimitSettings,
} from './policyDocument.ts';

export {
  apiKeySources,
  backendApiKeyEnv,
  bedrockEndpoint,
  DEFAULT_BASE_URL,
  PROVIDER_API_KEY_ENV,
  vertexEndpoint,
} from './backendResolution.ts';

export interface ResolveInputs {
  readonly agent: AgentDeployment;
  /** The referenced policies, when they exist; a missing one falls back to defaults. */
  readonly circuitBreakerPolicy?: CircuitBreakerPolicy | undefined;
  readonly rateLimitPolicy?: RateLimitPolicy | undefined;
  /** Text of `spec.systemPromptFrom`, read by the caller. */
  readonly systemPromptFromRef?: string | undefined;
  /** Ready replicas sharing a Cluster-scope limit; below 1 counts as 1. */
  readonly readyReplicas?: number | undefined;
  /** The policies `spec.mcpServers[].circuitBreakerPolicyRef` name, by name, when they exist. */
  readonly mcpBreakerPolicies?: ReadonlyMap<string, CircuitBreakerPolicy> | undefined;
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
      maxTokens: spec.model.maxTokens ?? AGENT['model.maxTokens'].default,
      ...(temperature === undefined ? {} : { temperature }),
    },
    ...(systemPrompt === undefined ? {} : { systemPrompt }),
    backends: resolveBackends(agent),
    loadBalancing: spec.loadBalancing ?? AGENT.loadBalancing.default,
    tools: (spec.tools ?? []).map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema,
      url: tool.url,
      timeoutMs: parseDuration(tool.timeout ?? AGENT['tools[].timeout'].default),
    })),
    ...mcpServers(agent, inputs.mcpBreakerPolicies),
    timeoutMs: parseDuration(spec.timeout ?? AGENT.timeout.default),
    streamIdleTimeoutMs:
      spec.streamIdleTimeout === undefined
        ? DEFAULT_STREAM_IDLE_TIMEOUT_MS
        : parseDuration(spec.streamIdleTimeout),
    ...(spec.maxStreamDuration === undefined
      ? {}
      : { maxStreamDurationMs: parseDuration(spec.maxStreamDuration) }),
    retry: {
      maxAttempts: spec.retry?.maxAttempts ?? AGENT['retry.maxAttempts'].default,
      initialDelayMs: parseDuration(
        spec.retry?.backoff?.initialDelay ?? AGENT['retry.backoff.initialDelay'].default,
      ),
      maxDelayMs: parseDuration(
        spec.retry?.backoff?.maxDelay ?? AGENT['retry.backoff.maxDelay'].default,
      ),
    },
    circuitBreaker: resolveBreaker(inputs.circuitBreakerPolicy),
    rateLimit: resolveRateLimit(
      inputs.rateLimitPolicy,
      inputs.readyReplicas ?? 1,
      agent.metadata.name ?? '',
    ),
    access: clientKeysSecret(agent),
    cache: {
      enabled: spec.cache?.enabled ?? AGENT['cache.enabled'].default,
      maxEntries: spec.cache?.maxEntries ?? AGENT['cache.maxEntries'].default,
      ttlMs: parseDuration(spec.cache?.ttl ?? AGENT['cache.ttl'].default),
    },
    security: {
      promptInjection: spec.security?.promptInjection ?? AGENT['security.promptInjection'].default,
    },
    audit: { enabled: spec.audit?.enabled ?? AGENT['audit.enabled'].default },
    // Written only when off, so that documents (and their hashes) stay as they were by default.
    ...(spec.monitoring?.debugEndpoints === false ? { debugEndpoints: false as const } : {}),
  };
}

function clientKeysSecret(agent: AgentDeployment): PolicyDocument['access'] {
  const name = agent.spec.access?.clientKeysSecretRef?.name;
  return name === undefined ? {} : { clientKeysSecret: name };
}

/** `mcpServers`, written only when the agent declares any (see McpServerSettings). */
function mcpServers(
  agent: AgentDeployment,
  policies: ReadonlyMap<string, CircuitBreakerPolicy> | undefined,
): { mcpServers?: McpServerSettings[] } {
  const servers = agent.spec.mcpServers ?? [];
  if (servers.length === 0) return {};
  return {
    mcpServers: servers.map((server) => {
      const ref = server.circuitBreakerPolicyRef?.name;
      return {
        name: server.name,
        url: server.url,
        ...(server.headersSecretRef === undefined
          ? {}
          : { headersSecret: server.headersSecretRef.name }),
        ...(server.tools === undefined ? {} : { tools: server.tools }),
        timeoutMs: parseDuration(server.timeout ?? AGENT['mcpServers[].timeout'].default),
        maxConcurrent: server.maxConcurrent ?? AGENT['mcpServers[].maxConcurrent'].default,
        // A named policy that does not exist yet runs with the defaults, as the agent's does.
        ...(ref === undefined ? {} : { circuitBreaker: resolveBreaker(policies?.get(ref)) }),
      };
    }),
  };
}

export function resolveBreaker(policy: CircuitBreakerPolicy | undefined): BreakerSettings {
  const spec = policy?.spec ?? {};
  const openDurationMs = parseDuration(spec.openDuration ?? BREAKER.openDuration.default);
  const rate = spec.failureRate;
  const windowType = rate?.window?.type ?? BREAKER['failureRate.window.type'].default;
  const until = spec.override?.until;
  const reason = spec.override?.reason;
  const windowSize = BREAKER['failureRate.window.size'].default;
  const generation = policy?.metadata.generation;
  return {
    ...(policy?.metadata.name === undefined ? {} : { policyName: policy.metadata.name }),
    ...(generation === undefined ? {} : { policyGeneration: generation }),
    failureThreshold: spec.failureThreshold ?? BREAKER.failureThreshold.default,
    successThreshold: spec.successThreshold ?? BREAKER.successThreshold.default,
    openDurationMs,
    ...(spec.maxOpenDuration === undefined
      ? {}
      : { maxOpenDurationMs: parseDuration(spec.maxOpenDuration) }),
    halfOpenMaxCalls: spec.halfOpenMaxCalls ?? BREAKER.halfOpenMaxCalls.default,
    ...(rate === undefined
      ? {}
      : {
          failureRate: {
            thresholdPercent: rate.thresholdPercent,
            minimumCalls: rate.minimumCalls ?? BREAKER['failureRate.minimumCalls'].default,
            // A Time window's size is in seconds, as in the schema.
            window:
              // Any type but Time is passed on as it is, for the document's check to refuse.
              windowType === 'Time'
                ? { type: 'Time' as const, sizeMs: (rate.window?.size ?? windowSize) * 1000 }
                : { type: windowType, size: rate.window?.size ?? windowSize },
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
    failOn: spec.failOn ?? BREAKER.failOn.default,
    override: {
      state: spec.override?.state ?? BREAKER['override.state'].default,
      ...(reason === undefined ? {} : { reason }),
      ...(until === undefined ? {} : { untilMs: Date.parse(until) }),
    },
    mode: spec.mode ?? BREAKER.mode.default,
    ...(spec.loopDetection === undefined
      ? {}
      : {
          loopDetection: {
            maxRepeats:
              spec.loopDetection.maxRepeats ?? BREAKER['loopDetection.maxRepeats'].default,
            maxCycleRepeats:
              spec.loopDetection.maxCycleRepeats ??
              BREAKER['loopDetection.maxCycleRepeats'].default,
          },
        }),
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
  const scope = spec.scope ?? RATE.scope.default;
  const shareOf = scope === 'Cluster' ? Math.max(1, Math.floor(readyReplicas)) : 1;
  // A total below the floor is not a valid policy: it is passed on as it is for the
  // document's check to refuse, not lifted to the floor.
  const share = (total: number, floor: number): number =>
    total < floor ? total : Math.max(floor, total / shareOf);
  const whole = (total: number, floor: number): number =>
    total < floor ? total : Math.max(floor, Math.floor(total / shareOf));
  const { requests, tokens, concurrency } = spec;
  const onLimit = spec.onLimit ?? RATE.onLimit.default;
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
            maxQueue: whole(concurrency.maxQueue ?? RATE['concurrency.maxQueue'].default, 0),
            queueTimeoutMs: parseDuration(
              concurrency.queueTimeout ?? RATE['concurrency.queueTimeout'].default,
            ),
          },
        }),
    adaptive: {
      honorRetryAfter: spec.adaptive?.honorRetryAfter ?? RATE['adaptive.honorRetryAfter'].default,
      providerHeaders: spec.adaptive?.providerHeaders ?? RATE['adaptive.providerHeaders'].default,
    },
    onLimit,
    maxWaitMs: onLimit === 'Wait' && spec.maxWait !== undefined ? parseDuration(spec.maxWait) : 0,
    mode: spec.mode ?? RATE.mode.default,
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
  const perAgent = (store.sharing ?? RATE['store.sharing'].default) === 'PerAgent';
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
    waitBudgetMs: parseDuration(store.waitBudget ?? RATE['store.waitBudget'].default),
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
