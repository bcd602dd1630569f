/**
 * Resolves an AgentDeployment and the policies it references into one PolicyDocument.
 * The operator and the runtime's standalone mode both call this, so a policy behaves the
 * same whether it arrived through the cluster or from files. Pure: no I/O, no clock.
 *
 * Each setting is read through the mapping table (documentFields.ts) with the schema's
 * defaults (generated/documentDefaults.ts): the API server applies them on admission, but
 * manifests read from disk never went through it. What is composed here by hand is what is
 * not field-for-field: identity, backends, the MCP server list, the override, the store.
 */
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitStoreSpec,
  RedisServer,
  RateLimitPolicy,
  RateLimitShare,
} from '../api/resources.ts';
import {
  CIRCUIT_BREAKER_POLICY_LIMITS as BREAKER,
  RATE_LIMIT_POLICY_LIMITS as RATE,
} from '../api/specLimits.ts';
import { resolveBackends } from './backendResolution.ts';
import { inUnit, replicaShareStatus, resolveSection, SpecValueError } from './sectionResolution.ts';
import {
  POLICY_DOCUMENT_VERSION,
  type BreakerSettings,
  type DurabilitySettings,
  type RedisSettings,
  type RedisTopology,
  type StoreSettings,
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
  /**
   * Ready replicas of every agent in the namespace on the agent's RateLimitPolicy, this one's
   * included, which share its team budgets (`per: Policy`) each an equal part; undefined: not
   * known (a team budget then has no share, and is counted in the store only).
   */
  readonly teamReadyReplicas?: number | undefined;
  /** The policies `spec.mcpServers[].circuitBreakerPolicyRef` name, by name, when they exist. */
  readonly mcpBreakerPolicies?: ReadonlyMap<string, CircuitBreakerPolicy> | undefined;
}

export function resolvePolicy(inputs: ResolveInputs): PolicyDocument {
  const { agent } = inputs;
  const spec = agent.spec;
  const systemPrompt = spec.systemPrompt ?? inputs.systemPromptFromRef;
  return {
    version: POLICY_DOCUMENT_VERSION,
    agent: {
      namespace: agent.metadata.namespace ?? 'default',
      name: agent.metadata.name ?? '',
      generation: agent.metadata.generation ?? 0,
    },
    ...resolveSection('agent', '', spec),
    model: {
      name: spec.model.name,
      fallbacks: spec.model.fallbacks ?? [],
      ...resolveSection('agent', 'model', spec),
    },
    ...(systemPrompt === undefined ? {} : { systemPrompt }),
    backends: resolveBackends(agent),
    tools: (spec.tools ?? []).map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema,
      url: tool.url,
      ...resolveSection('tool', '', tool),
    })),
    ...mcpServers(agent, inputs.mcpBreakerPolicies),
    retry: resolveSection('agent', 'retry', spec),
    circuitBreaker: resolveBreaker(inputs.circuitBreakerPolicy),
    rateLimit: resolveRateLimit(
      inputs.rateLimitPolicy,
      inputs.readyReplicas ?? 1,
      agent.metadata.name ?? '',
      inputs.teamReadyReplicas,
    ),
    access: clientKeysSecret(agent),
    cache: resolveSection('agent', 'cache', spec),
    security: resolveSection('agent', 'security', spec),
    audit: resolveSection('agent', 'audit', spec),
    ...(spec.pricing === undefined || spec.pricing.length === 0
      ? {}
      : {
          pricing: spec.pricing.map((price) => ({
            model: price.model,
            ...resolveSection('price', '', price),
          })),
        }),
    ...(spec.durability === undefined ? {} : { durability: resolveDurability(agent) }),
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
        ...resolveSection('mcpServer', '', server),
        // A named policy that does not exist yet runs with the defaults, as the agent's does.
        ...(ref === undefined ? {} : { circuitBreaker: resolveBreaker(policies?.get(ref)) }),
      };
    }),
  };
}

export function resolveBreaker(policy: CircuitBreakerPolicy | undefined): BreakerSettings {
  const spec = policy?.spec ?? {};
  const rate = spec.failureRate;
  const windowType = rate?.window?.type ?? BREAKER['failureRate.window.type'].default;
  const until = spec.override?.until;
  const reason = spec.override?.reason;
  const generation = policy?.metadata.generation;
  return {
    ...(policy?.metadata.name === undefined ? {} : { policyName: policy.metadata.name }),
    ...(generation === undefined ? {} : { policyGeneration: generation }),
    ...resolveSection('breaker', '', spec),
    ...(rate === undefined
      ? {}
      : {
          failureRate: {
            ...resolveSection('breaker', 'failureRate', spec),
            // Any type but Time is passed on as a Count window, for the document's check to refuse.
            window:
              windowType === 'Time'
                ? { type: 'Time' as const, ...resolveSection('breaker', 'timeWindow', spec) }
                : { type: windowType, ...resolveSection('breaker', 'countWindow', spec) },
          },
        }),
    ...(spec.slowCall === undefined
      ? {}
      : { slowCall: resolveSection('breaker', 'slowCall', spec) }),
    override: {
      state: spec.override?.state ?? BREAKER['override.state'].default,
      ...(reason === undefined ? {} : { reason }),
      ...(until === undefined ? {} : { untilMs: Date.parse(until) }),
    },
    ...(spec.loopDetection === undefined
      ? {}
      : { loopDetection: resolveSection('breaker', 'loopDetection', spec) }),
  };
}

/**
 * The rate limit one replica enforces. For Cluster scope each ready replica gets an equal
 * share (documentFields.ts says how each number is divided).
 */
export function resolveRateLimit(
  policy: RateLimitPolicy | undefined,
  readyReplicas: number,
  agentName = '',
  teamReadyReplicas?: number,
): RateLimitSettings {
  const spec = policy?.spec ?? {};
  const fields = resolveSection('rateLimit', '', spec);
  const shareOf = fields.scope === 'Cluster' ? Math.max(1, Math.floor(readyReplicas)) : 1;
  const { requests, tokens, concurrency, budgets } = spec;
  return {
    ...(policy?.metadata.name === undefined ? {} : { policyName: policy.metadata.name }),
    ...fields,
    shareOf,
    ...(requests === undefined
      ? {}
      : { requests: resolveSection('rateLimit', 'requests', spec, shareOf) }),
    ...(tokens === undefined
      ? {}
      : { tokens: resolveSection('rateLimit', 'tokens', spec, shareOf) }),
    ...(concurrency === undefined
      ? {}
      : { concurrency: resolveSection('rateLimit', 'concurrency', spec, shareOf) }),
    adaptive: resolveSection('rateLimit', 'adaptive', spec),
    maxWaitMs: maxWaitOf(fields.onLimit, spec.maxWait),
    ...(policy === undefined || spec.store === undefined
      ? {}
      : { store: resolveStore(policy, spec.store, agentName) }),
    ...(budgets === undefined || budgets.length === 0
      ? {}
      : {
          spend: {
            ...resolveSection('rateLimit', 'spend', spec),
            shareOf: Math.max(1, Math.floor(readyReplicas)),
            budgets: budgets.map((budget) => ({
              name: budget.name,
              ...resolveSection('budget', '', budget),
              // A team's budget is divided among every agent's ready replicas on the policy:
              // each agent's part in proportion to its replicas.
              ...(budget.per === 'Policy' && teamReadyReplicas !== undefined
                ? { teamShareOf: Math.max(1, Math.floor(teamReadyReplicas)) }
                : {}),
            })),
          },
        }),
  };
}

/**
 * The store's settings: the policy's numbers as written (the whole agent's, or every
 * agent's with sharing AllAgents) and the key prefix that says whose counters they are.
 */
function resolveStore(
  policy: RateLimitPolicy,
  store: RateLimitStoreSpec,
  agentName: string,
): StoreSettings {
  const { requests, tokens, budgets } = policy.spec;
  const owner = `${policy.metadata.namespace ?? 'default'}/${policy.metadata.name ?? ''}`;
  const perAgent = (store.sharing ?? RATE['store.sharing'].default) === 'PerAgent';
  // The team's accounts are the policy's, whichever agent charges them.
  const team = budgets?.some((b) => b.per === 'Policy') === true;
  return {
    redis: resolveRedis(store.redis),
    ...resolveSection('rateLimit', 'store', policy.spec),
    keyPrefix: `breakwater:{${perAgent ? `${owner}/${agentName}` : owner}}`,
    ...(team ? { teamKeyPrefix: `breakwater:{${owner}}` } : {}),
    ...(requests === undefined
      ? {}
      : { requests: { perSecond: requests.perSecond, burst: requests.burst } }),
    ...(tokens === undefined ? {} : { tokens: { ...tokens } }),
  };
}

/** The replica's numbers as RateLimitPolicy.status.effective shows them. */
export function effectiveShare(settings: RateLimitSettings): RateLimitShare {
  return replicaShareStatus(
    settings as unknown as Readonly<Record<string, unknown>>,
    settings.shareOf,
  );
}

/** A RedisServer as the document carries it: TLS only when enabled, Secrets by reference. */
function resolveRedis(redis: RedisServer): RedisSettings {
  return {
    ...resolveTopology(redis),
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
    // Primary is the default, left out; any other word goes on for validation to judge.
    ...(redis.acknowledge === undefined || redis.acknowledge === 'Primary'
      ? {}
      : { acknowledge: redis.acknowledge }),
  };
}

/**
 * Where the servers are. Admission lets exactly one of the three through; a manifest that never
 * went through it and has none is refused by validation (an empty address).
 */
function resolveTopology(redis: RedisServer): RedisTopology {
  const { sentinel, cluster } = redis;
  if (cluster !== undefined) return { cluster: { addresses: [...cluster.addresses] } };
  if (sentinel === undefined) return { address: redis.address ?? '' };
  return {
    sentinel: {
      masterName: sentinel.masterName,
      addresses: [...sentinel.addresses],
      ...(sentinel.passwordSecretRef === undefined
        ? {}
        : { passwordSecretRef: { ...sentinel.passwordSecretRef } }),
    },
  };
}

/** `durability`: the journal's store, retention and key, and the prefix of the agent's runs. */
function resolveDurability(agent: AgentDeployment): DurabilitySettings | undefined {
  const durability = agent.spec.durability;
  if (durability === undefined) return undefined;
  return {
    store: { redis: resolveRedis(durability.store.redis) },
    ...resolveSection('agent', 'durability', agent.spec),
    encryptionKeySecretRef: { ...durability.encryptionKeySecretRef },
    keyPrefix: `breakwater:run:${agent.metadata.namespace ?? 'default'}/${agent.metadata.name ?? ''}`,
  };
}

/**
 * `spec.maxWait` in milliseconds, as the schema's two rules allow it: required with onLimit
 * Wait, refused with Reject. Admission checks both; a manifest run with `--manifests` never went
 * through it, and a maxWait dropped without a word would wait nowhere.
 */
function maxWaitOf(onLimit: string | undefined, maxWait: unknown): number {
  const where = 'RateLimitPolicy spec.maxWait';
  if (onLimit === 'Wait') {
    if (maxWait === undefined)
      throw new SpecValueError(`${where}: maxWait is required when onLimit is Wait`);
    return inUnit(maxWait, { spec: 'maxWait', unit: 'duration' }, 'rateLimit') as number;
  }
  if (maxWait !== undefined)
    throw new SpecValueError(`${where}: maxWait applies only when onLimit is Wait`);
  return 0;
}
