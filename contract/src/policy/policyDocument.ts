/**
 * The resolved policy: everything one agent's runtime needs, with defaults applied,
 * durations in milliseconds and the Cluster-scope share already divided. The operator
 * writes it as `policy.json` into ConfigMap `<agent>-policy`; the runtime's standalone mode
 * builds the same document from manifests with the same resolver. Secrets never appear
 * here: the document names the environment variables that carry them.
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../api/duration.ts';
import type {
  FailureClass,
  InjectionMode,
  LoadBalancing,
  OnLimit,
  OverrideState,
  PolicyMode,
  RateLimitScope,
} from '../api/vocabulary.ts';
import { AGENT_DEPLOYMENT_LIMITS } from '../api/specLimits.ts';

export const POLICY_DOCUMENT_VERSION = 1;
export const POLICY_CONFIGMAP_KEY = 'policy.json';
export const POLICY_HASH_ANNOTATION = 'breakwater.dev/policy-hash';

export const policyConfigMapName = (agent: string): string => `${agent}-policy`;

export type { LoadBalancing };

export interface BreakerSettings {
  /** The CircuitBreakerPolicy this came from; absent when the agent names none (defaults). */
  readonly policyName?: string;
  /**
   * That policy's metadata.generation, so that each replica can say which version of its
   * override it applies (the `breakwater.dev/runtime` pod annotation).
   */
  readonly policyGeneration?: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
  readonly openDurationMs: number;
  readonly maxOpenDurationMs?: number;
  readonly halfOpenMaxCalls: number;
  readonly failureRate?: {
    readonly thresholdPercent: number;
    readonly minimumCalls: number;
    readonly window:
      | { readonly type: 'Count'; readonly size: number }
      | { readonly type: 'Time'; readonly sizeMs: number };
  };
  readonly slowCall?: { readonly durationMs: number; readonly thresholdPercent: number };
  readonly failOn: readonly FailureClass[];
  readonly override: {
    readonly state: OverrideState;
    readonly reason?: string;
    /** Epoch ms after which the override no longer applies. */
    readonly untilMs?: number;
  };
  readonly mode: PolicyMode;
  /** Written only when the policy sets it; absent: the schema's defaults. */
  readonly loopDetection?: {
    readonly maxRepeats: number;
    readonly maxCycleRepeats: number;
  };
}

export interface RateLimitSettings {
  readonly policyName?: string;
  readonly scope: RateLimitScope;
  /** Replicas the Cluster-scope numbers were divided by (1 for PerReplica). */
  readonly shareOf: number;
  /** Per-replica numbers in force. Absent parts are unlimited. */
  readonly requests?: { readonly perSecond: number; readonly burst: number };
  readonly tokens?: { readonly inputPerMinute?: number; readonly outputPerMinute?: number };
  readonly concurrency?: {
    readonly maxConcurrent: number;
    readonly maxQueue: number;
    readonly queueTimeoutMs: number;
  };
  readonly adaptive: { readonly honorRetryAfter: boolean; readonly providerHeaders: boolean };
  readonly onLimit: OnLimit;
  readonly maxWaitMs: number;
  readonly mode: PolicyMode;
  /**
   * Exact counters for the whole agent in a shared Redis; the per-replica numbers above are
   * the fallback while it cannot answer. Absent: the per-replica split alone.
   */
  readonly store?: CounterStoreSettings;
}

export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/** Where the shared counters live, and the numbers they enforce (not divided among replicas). */
export interface CounterStoreSettings {
  readonly redis: {
    /** host:port */
    readonly address: string;
    readonly username?: string;
    /**
     * The Secret key holding the password; the operator mounts it as a file
     * (`RATE_LIMIT_STORE_MOUNT_PATH` in contract/src/pod/runtimeEnvironment.ts).
     */
    readonly passwordSecretRef?: SecretKeyRef;
    readonly tls?: {
      /** The Secret key holding the CA certificate, mounted next to the password. */
      readonly caSecretRef?: SecretKeyRef;
      readonly serverName?: string;
    };
  };
  readonly waitBudgetMs: number;
  /**
   * Prefix of every key: `breakwater:{<namespace>/<policy>[/<agent>]}`. The braces are a
   * Redis Cluster hash tag, so one limiter's keys stay on one slot for the multi-key script.
   */
  readonly keyPrefix: string;
  readonly requests?: { readonly perSecond: number; readonly burst: number };
  readonly tokens?: { readonly inputPerMinute?: number; readonly outputPerMinute?: number };
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
export interface McpServerSettings {
  readonly name: string;
  /** Its Streamable HTTP endpoint. */
  readonly url: string;
  /** The Secret of headers mounted at `mcpHeadersDir(name)`; absent: none. */
  readonly headersSecret?: string;
  /** The tools the agent may call; absent: every tool the server lists. */
  readonly tools?: readonly string[];
  readonly timeoutMs: number;
  readonly maxConcurrent: number;
  /** Its own breaker settings (its circuitBreakerPolicyRef); absent: the agent's. */
  readonly circuitBreaker?: BreakerSettings;
}

export interface ToolSettings {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly url: string;
  readonly timeoutMs: number;
}

export interface PolicyDocument {
  readonly version: typeof POLICY_DOCUMENT_VERSION;
  readonly agent: {
    readonly namespace: string;
    readonly name: string;
    readonly generation: number;
  };
  readonly model: {
    readonly name: string;
    readonly fallbacks: readonly string[];
    readonly maxTokens: number;
    readonly temperature?: number;
  };
  readonly systemPrompt?: string;
  /** One entry at least: `provider` becomes the backend named "default" when no backends are listed. */
  readonly backends: readonly BackendSettings[];
  readonly loadBalancing: LoadBalancing;
  readonly tools: readonly ToolSettings[];
  /** Written only when the agent declares any. */
  readonly mcpServers?: readonly McpServerSettings[];
  /** A plain call's time to its answer; a streaming call's time to its first event. */
  readonly timeoutMs: number;
  /**
   * Longest pause between two events of a stream. Absent in documents written before it
   * existed: `DEFAULT_STREAM_IDLE_TIMEOUT_MS` then.
   */
  readonly streamIdleTimeoutMs?: number;
  /** Limit on a whole stream, first event to last; absent: none. */
  readonly maxStreamDurationMs?: number;
  readonly retry: {
    readonly maxAttempts: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
  };
  readonly circuitBreaker: BreakerSettings;
  readonly rateLimit: RateLimitSettings;
  readonly access: {
    /** Secret (same namespace) whose every value is an accepted client key; absent = open. */
    readonly clientKeysSecret?: string;
  };
  readonly cache: {
    readonly enabled: boolean;
    readonly maxEntries: number;
    readonly ttlMs: number;
  };
  readonly security: { readonly promptInjection: InjectionMode };
  readonly audit: { readonly enabled: boolean };
  /** `false` turns the `/debug/*` documents off; absent means on (`spec.monitoring.debugEndpoints`). */
  readonly debugEndpoints?: false;
}

/** JSON with object keys sorted at every level, so equal documents serialise identically. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** A short content hash: what pods report back as `breakwater.dev/policy-hash`. */
export function policyHash(doc: PolicyDocument): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 16);
}

/** `spec.streamIdleTimeout`'s default (the schema's), for documents that predate it. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = parseDuration(
  AGENT_DEPLOYMENT_LIMITS.streamIdleTimeout.default,
);
