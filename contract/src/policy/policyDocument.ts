/**
 * The resolved policy: everything one agent's runtime needs, with defaults applied,
 * durations in milliseconds and the Cluster-scope share already divided. The operator
 * writes it as `policy.json` into ConfigMap `<agent>-policy`; the runtime's standalone mode
 * builds the same document from manifests with the same resolver. Secrets never appear
 * here: the document names the environment variables that carry them.
 */
import { createHash } from 'node:crypto';
import type { RequestRate, TokenBudget } from '../api/resources.ts';
import type { LoadBalancing, OverrideState } from '../api/vocabulary.ts';
import { DOCUMENT_DEFAULTS } from './generated/documentDefaults.ts';
import type {
  AgentAuditFields,
  AgentCacheFields,
  AgentDurabilityFields,
  AgentFields,
  AgentModelFields,
  AgentRetryFields,
  AgentSecurityFields,
  BreakerCountWindowFields,
  BreakerFailureRateFields,
  BreakerFields,
  BreakerLoopDetectionFields,
  BreakerSlowCallFields,
  BreakerTimeWindowFields,
  BudgetFields,
  McpServerFields,
  PriceFields,
  RateLimitAdaptiveFields,
  RateLimitConcurrencyFields,
  RateLimitFields,
  RateLimitRequestsFields,
  RateLimitSpendFields,
  RateLimitStoreFields,
  RateLimitTokensFields,
  ToolFields,
} from './generated/documentSettingTypes.ts';

/** 2: the per-replica rate-limit numbers are named `replica…` (1 named them as the policy's). */
export const POLICY_DOCUMENT_VERSION = 2;
export const POLICY_CONFIGMAP_KEY = 'policy.json';
export const POLICY_HASH_ANNOTATION = 'breakwater.dev/policy-hash';

export const policyConfigMapName = (agent: string): string => `${agent}-policy`;

export type { LoadBalancing };

export interface BreakerSettings extends BreakerFields {
  /** The CircuitBreakerPolicy this came from; absent when the agent names none (defaults). */
  readonly policyName?: string;
  /**
   * That policy's metadata.generation, so that each replica can say which version of its
   * override it applies (the `breakwater.dev/runtime` pod annotation).
   */
  readonly policyGeneration?: number;
  readonly failureRate?: BreakerFailureRateFields & { readonly window: CallWindowSettings };
  readonly slowCall?: BreakerSlowCallFields;
  readonly override: {
    readonly state: OverrideState;
    readonly reason?: string;
    /** Epoch ms after which the override no longer applies. */
    readonly untilMs?: number;
  };
  /** Written only when the policy sets it; absent: the schema's defaults. */
  readonly loopDetection?: BreakerLoopDetectionFields;
}

/** A failure-rate window: the last `size` calls, or the calls of the last `sizeMs`. */
export type CallWindowSettings =
  | ({ readonly type: 'Count' } & BreakerCountWindowFields)
  | ({ readonly type: 'Time' } & BreakerTimeWindowFields);

/**
 * The numbers named `replica…` are what one replica enforces, in every scope: the policy's
 * own with PerReplica, the Cluster-scope total divided among `shareOf` ready replicas.
 */
export interface RateLimitSettings extends RateLimitFields {
  readonly policyName?: string;
  /** Replicas the Cluster-scope numbers were divided by (1 for PerReplica). */
  readonly shareOf: number;
  /** Absent parts are unlimited. */
  readonly requests?: RateLimitRequestsFields;
  readonly tokens?: RateLimitTokensFields;
  readonly concurrency?: RateLimitConcurrencyFields;
  readonly adaptive: RateLimitAdaptiveFields;
  readonly maxWaitMs: number;
  /**
   * Exact counters for the whole agent in a shared Redis; the replica's numbers above are
   * the fallback while it cannot answer. Absent: the per-replica split alone.
   */
  readonly store?: StoreSettings;
  /** Written only when the policy sets budgets, so that other documents and hashes stay as they were. */
  readonly spend?: SpendSettings;
}

/** RateLimitPolicy `timeZone` and `budgets[]`: what the agent may spend per calendar period. */
export interface SpendSettings extends RateLimitSpendFields {
  /**
   * Replicas that each hold an equal share of every budget: the agent's ready replicas in
   * every scope, since a budget is the whole agent's (a PerReplica scope divides nothing else).
   */
  readonly shareOf: number;
  readonly budgets: readonly BudgetSettings[];
}

/** One budget, the agent's (or each key's, or the team's) total: never divided among replicas. */
export interface BudgetSettings extends BudgetFields {
  readonly name: string;
  /**
   * A team's budget (`per: Policy`): the ready replicas of every agent on the policy, which each
   * hold an equal share of it (so each agent a part in proportion to its replicas), as the
   * operator counts them. Absent: no share; the budget is counted in the store only.
   */
  readonly teamShareOf?: number;
}

/**
 * AgentDeployment `pricing[]`: one model's prices in micro-dollars per million tokens (which
 * is picodollars per token); replaces the price table's row for that model.
 */
export interface ModelPriceSettings extends PriceFields {
  readonly model: string;
}

export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/**
 * A Redis server as the rate-limit store and the run journal reach it (common RedisServer):
 * at one address, through the Sentinels that name its primary, or a Redis Cluster's nodes.
 * Exactly one of the three.
 */
export type RedisSettings = RedisAccess & RedisTopology;

/** Where the primary is: one address, the one Sentinel names, or each slot's in a cluster. */
export type RedisTopology =
  | { readonly address: string; readonly sentinel?: never; readonly cluster?: never }
  | { readonly sentinel: SentinelSettings; readonly address?: never; readonly cluster?: never }
  | { readonly cluster: ClusterSettings; readonly address?: never; readonly sentinel?: never };

/** RedisServer `cluster`: the nodes to learn the slot map from (1 to 16). */
export interface ClusterSettings {
  readonly addresses: readonly string[];
}

/** RedisServer `sentinel`: the sentinels to ask, and the name they watch the primary under. */
export interface SentinelSettings {
  readonly masterName: string;
  /** host:port of each sentinel, 1 to 9. */
  readonly addresses: readonly string[];
  /** The sentinels' own password, mounted as a file beside the servers' one. */
  readonly passwordSecretRef?: SecretKeyRef;
}

/** How the runtime authenticates to the servers, whichever way it finds them. */
export interface RedisAccess {
  readonly username?: string;
  /**
   * The Secret key holding the password; the operator mounts it as a file
   * (`RATE_LIMIT_STORE_MOUNT_PATH`, `DURABILITY_MOUNT_PATH` in contract/src/pod/runtimeEnvironment.ts).
   */
  readonly passwordSecretRef?: SecretKeyRef;
  readonly tls?: {
    /** The Secret key holding the CA certificate, mounted next to the password. */
    readonly caSecretRef?: SecretKeyRef;
    readonly serverName?: string;
  };
  /**
   * RedisServer `acknowledge: Replicas`, present only then: the writes a promise rests on are
   * done once a replica holds them too (replicaAcknowledged.ts). Absent means Primary.
   */
  readonly acknowledge?: 'Replicas';
}

/** Where the store's counters live, and the numbers they enforce (not divided among replicas). */
export interface StoreSettings extends RateLimitStoreFields {
  readonly redis: RedisSettings;
  /**
   * Prefix of every key: `breakwater:{<namespace>/<policy>[/<agent>]}`. The braces are a
   * Redis Cluster hash tag, so one limiter's keys stay on one slot for the multi-key script.
   */
  readonly keyPrefix: string;
  /**
   * Prefix of the team's budget accounts (`per: Policy`), the same for every agent on the
   * policy: `breakwater:{<namespace>/<policy>}`. Written only when a budget is per Policy.
   */
  readonly teamKeyPrefix?: string;
  readonly requests?: Readonly<RequestRate>;
  readonly tokens?: Readonly<TokenBudget>;
}

/** AgentDeployment `durability`: where each run's journal is kept, how long, under which key. */
export interface DurabilitySettings extends AgentDurabilityFields {
  readonly store: { readonly redis: RedisSettings };
  /** The Secret key holding the journal's AES-256-GCM key, mounted into the runtime only. */
  readonly encryptionKeySecretRef: SecretKeyRef;
  /** Prefix of every journal key: `breakwater:run:<namespace>/<agent>`. */
  readonly keyPrefix: string;
}

/**
 * One backend. Fields written only when they differ from their defaults (`type` Anthropic,
 * `priority` 0, no `models`), so that documents of agents that use none of them, and their
 * hashes, stay as they were before the fields existed.
 */
interface BackendCommon {
  readonly name: string;
  /** The API's base URL; for Bedrock and Vertex resolved from the region when not set. */
  readonly baseURL: string;
  readonly weight: number;
  /** Lower first; absent: 0. */
  readonly priority?: number;
  /** The agent's model name → this backend's model ID. */
  readonly models?: Readonly<Record<string, string>>;
}

export interface AnthropicBackendSettings extends BackendCommon {
  readonly type?: 'Anthropic';
  /** Environment variable holding this backend's API key. */
  readonly apiKeyEnv: string;
}

export interface CloudBackendCredentials {
  /**
   * The Secret mounted at `backendCredentialsDir(name)` in the runtime container; absent:
   * the cloud's default credential chain.
   */
  readonly credentialsSecret?: string;
}

export interface BedrockBackendSettings extends BackendCommon, CloudBackendCredentials {
  readonly type: 'Bedrock';
  readonly region: string;
}

export interface VertexBackendSettings extends BackendCommon, CloudBackendCredentials {
  readonly type: 'Vertex';
  readonly region: string;
  readonly projectID: string;
}

export type BackendSettings =
  AnthropicBackendSettings | BedrockBackendSettings | VertexBackendSettings;

/** What a backend speaks (`spec.backends[].type`). */
export type BackendType = NonNullable<BackendSettings['type']>;

/** A Model Context Protocol server (`spec.mcpServers[]`). */
export interface McpServerSettings extends McpServerFields {
  readonly name: string;
  /** Its Streamable HTTP endpoint. */
  readonly url: string;
  /** The Secret of headers mounted at `mcpHeadersDir(name)`; absent: none. */
  readonly headersSecret?: string;
  /** The tools the agent may call; absent: every tool the server lists. */
  readonly tools?: readonly string[];
  /** Its own breaker settings (its circuitBreakerPolicyRef); absent: the agent's. */
  readonly circuitBreaker?: BreakerSettings;
}

export interface ToolSettings extends ToolFields {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly url: string;
}

/** Settings field-for-field from the spec are generated (./generated/) from documentFields.ts. */
export interface PolicyDocument extends AgentFields {
  readonly version: typeof POLICY_DOCUMENT_VERSION;
  readonly agent: {
    readonly namespace: string;
    readonly name: string;
    readonly generation: number;
  };
  readonly model: AgentModelFields & {
    readonly name: string;
    readonly fallbacks: readonly string[];
  };
  readonly systemPrompt?: string;
  /** One entry at least: `provider` becomes the backend named "default" when no backends are listed. */
  readonly backends: readonly BackendSettings[];
  readonly tools: readonly ToolSettings[];
  /** Written only when the agent declares any. */
  readonly mcpServers?: readonly McpServerSettings[];
  readonly retry: AgentRetryFields;
  readonly circuitBreaker: BreakerSettings;
  readonly rateLimit: RateLimitSettings;
  readonly access: {
    /** Secret (same namespace) whose every value is an accepted client key; absent = open. */
    readonly clientKeysSecret?: string;
  };
  readonly cache: AgentCacheFields;
  readonly security: AgentSecurityFields;
  readonly audit: AgentAuditFields;
  /** Written only when the agent sets any (`spec.pricing`). */
  readonly pricing?: readonly ModelPriceSettings[];
  /** Written only when the agent sets `spec.durability`. */
  readonly durability?: DurabilitySettings;
  /** `false` turns the `/debug/*` documents off; absent means on (`spec.monitoring.debugEndpoints`). */
  readonly debugEndpoints?: false;
}

/**
 * JSON with object keys sorted at every level, so equal documents serialise identically. A
 * sorted copy through one plain JSON.stringify: a replacer, called for every value, took a
 * third longer (a durable run's every request is matched by this, issue 36).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedCopy(value, ''));
}

/** `value` as JSON.stringify would write it (after `toJSON`), every object's keys sorted. */
function sortedCopy(value: unknown, key: string | number): unknown {
  let v = value;
  if (((typeof v === 'object' && v !== null) || typeof v === 'bigint') && hasToJson(v))
    v = v.toJSON(String(key));
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(sortedCopy);
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const copied = sortedCopy((v as Record<string, unknown>)[k], k);
    // What JSON leaves out of an object is left out of the copy (a function kept there named
    // toJSON would be called).
    if (copied !== undefined && typeof copied !== 'function' && typeof copied !== 'symbol')
      sorted[k] = copied;
  }
  return sorted;
}

function hasToJson(v: object | bigint): v is { toJSON(key: string): unknown } {
  return typeof (v as { toJSON?: unknown }).toJSON === 'function';
}

/** A short content hash: what pods report back as `breakwater.dev/policy-hash`. */
export function policyHash(doc: PolicyDocument): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 16);
}

/** `spec.streamIdleTimeout`'s default (the schema's), for a stream with no document. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = DOCUMENT_DEFAULTS.agent[''].streamIdleTimeoutMs;
