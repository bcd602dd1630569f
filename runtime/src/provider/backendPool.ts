/**
 * The backends of the policy, each with its way in (backendWire.ts): an Anthropic API backend
 * has an `@anthropic-ai/sdk` client (the agent loop's calls; made on their first, by
 * anthropic/anthropicSdk.ts) and a pass-through connection (messagesForwarder.ts); a Bedrock or
 * Vertex backend has its cloud's wire, which both paths use. `maxRetries: 0`: the guard decides
 * about retries, not the SDK. A backend is rebuilt only when what reaches it changes (URL, key,
 * region, project, credentials), so a policy reload keeps warm connections; weight, priority and
 * model names change in place.
 * The key is read here and handed to the SDK; it is never stored anywhere it could be printed.
 */
import { join } from 'node:path';
import type { BackendSettings, BackendType } from '../../../contract/src/policy/policyDocument.ts';
import {
  BACKEND_CREDENTIALS_DIR_ENV,
  BACKEND_CREDENTIALS_MOUNT_PATH,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import { systemClock, type Clock } from '../../../platform/src/time/clock.ts';
import type { AttemptInfo, ProviderGuard } from '../guard/guardSet/providerGuard.ts';
import { sdkClient, type SdkClient } from './anthropic/anthropicSdk.ts';
import { AnthropicWire, type BackendWire } from './backendWire.ts';
import { BedrockWire } from './bedrock/bedrockWire.ts';
import { MessagesForwarder } from './messagesForwarder.ts';
import { upstreamFetch, type UpstreamFetch } from './upstreamFetch.ts';
import { VertexWire } from './vertex/vertexWire.ts';

export interface Backend {
  readonly name: string;
  readonly type: BackendType;
  weight: number;
  /** Lower first. */
  priority: number;
  /** The agent's model name → this backend's model ID; unmapped: the name (Anthropic) or none. */
  models: Readonly<Record<string, string>> | undefined;
  readonly baseURL: string;
  /** Anthropic: the environment variable of its key. */
  readonly apiKeyEnv: string | undefined;
  /** False for an Anthropic backend whose key is unset: calls will fail with 401. */
  readonly hasKey: boolean;
  /** The SDK client of an Anthropic backend, made on first use: the agent loop's calls. */
  readonly client: SdkClient | undefined;
  /** How a Messages request reaches it, in the Anthropic API's terms whatever it speaks. */
  readonly wire: BackendWire;
  inFlight: number;
}

/** The ID `backend` knows `model` by; undefined when a cloud backend does not serve it. */
export function modelIdAt(backend: Backend, model: string): string | undefined {
  const mapped = backend.models?.[model];
  if (mapped !== undefined) return mapped;
  return backend.type === 'Anthropic' ? model : undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Sent when the key's variable is unset: the provider answers 401, which callers then see. */
const MISSING_KEY = 'missing-provider-key';
const USER_AGENT = 'breakwater-runtime';

/** The SDK's own timeout only backs up the guard's; it must never fire first. */
const SDK_TIMEOUT_MS = 24 * 3_600_000;

export class BackendPool {
  readonly #env: Env;
  readonly #clock: Clock;
  /** Keys from Secrets among `--manifests`; they take the place of the environment's. */
  #keys: Env = {};
  #backends: readonly Backend[] = [];
  /** Per backend name: what it was built from, and its connections. */
  #built = new Map<string, Built>();

  constructor(env: Env, clock: Clock = systemClock) {
    this.#env = env;
    this.#clock = clock;
  }

  get backends(): readonly Backend[] {
    return this.#backends;
  }

  /** Keys by environment variable name, standing in for the environment (standalone mode). */
  setKeys(keys: Env): void {
    this.#keys = keys;
  }

  update(settings: readonly BackendSettings[]): void {
    const next = new Map<string, Built>();
    for (const s of settings) {
      const key =
        s.type === undefined || s.type === 'Anthropic'
          ? (this.#keys[s.apiKeyEnv] ?? this.#env[s.apiKeyEnv])
          : undefined;
      const ref = reachRef(s, key);
      const old = this.#built.get(s.name);
      if (old !== undefined && old.ref === ref) {
        // The same object: attempts in flight decrement the counter they incremented.
        old.backend.weight = s.weight;
        old.backend.priority = s.priority ?? 0;
        old.backend.models = s.models;
        next.set(s.name, old);
        continue;
      }
      next.set(s.name, this.#build(s, key, ref));
    }
    for (const [name, old] of this.#built) {
      // Calls in flight on a replaced backend finish first; then its connections close.
      if (next.get(name) !== old) {
        void old.transport?.close().catch(() => undefined);
        void old.backend.wire.close().catch(() => undefined);
      }
    }
    this.#built = next;
    this.#backends = [...next.values()].map((e) => e.backend);
  }

  #build(s: BackendSettings, key: string | undefined, ref: string): Built {
    const common = {
      name: s.name,
      weight: s.weight,
      priority: s.priority ?? 0,
      models: s.models,
      baseURL: s.baseURL,
      inFlight: 0,
    };
    if (s.type === 'Bedrock' || s.type === 'Vertex') {
      const options = {
        backend: s.name,
        baseURL: s.baseURL,
        region: s.region,
        credentialsDir:
          s.credentialsSecret === undefined ? undefined : this.#credentialsDir(s.name),
        clock: this.#clock,
        env: this.#env,
      };
      const wire =
        s.type === 'Bedrock'
          ? new BedrockWire(options)
          : new VertexWire({ ...options, projectID: s.projectID });
      return {
        ref,
        transport: undefined,
        backend: {
          ...common,
          type: s.type,
          apiKeyEnv: undefined,
          hasKey: true,
          client: undefined,
          wire,
        },
      };
    }
    const transport = upstreamFetch(s.baseURL, this.#env);
    const apiKey = key ?? MISSING_KEY;
    const wire = new AnthropicWire(new MessagesForwarder(s.baseURL, apiKey, USER_AGENT, this.#env));
    const client = sdkClient({
      apiKey,
      baseURL: s.baseURL,
      maxRetries: 0,
      timeout: SDK_TIMEOUT_MS,
      logger: onceLogger,
      fetch: transport.fetch,
    });
    return {
      ref,
      transport,
      backend: {
        ...common,
        type: 'Anthropic',
        apiKeyEnv: s.apiKeyEnv,
        hasKey: key !== undefined && key !== '',
        client,
        wire,
      },
    };
  }

  /** Where the operator mounts the backend's credentials Secret (another root in standalone mode). */
  #credentialsDir(name: string): string {
    return join(this.#env[BACKEND_CREDENTIALS_DIR_ENV] ?? BACKEND_CREDENTIALS_MOUNT_PATH, name);
  }
}

/** What reaching a backend depends on; a change rebuilds it (the key by fingerprint only). */
function reachRef(s: BackendSettings, key: string | undefined): string {
  switch (s.type) {
    case 'Bedrock':
      return JSON.stringify(['Bedrock', s.baseURL, s.region, s.credentialsSecret ?? null]);
    case 'Vertex':
      return JSON.stringify([
        'Vertex',
        s.baseURL,
        s.region,
        s.projectID,
        s.credentialsSecret ?? null,
      ]);
    default:
      return JSON.stringify([
        'Anthropic',
        s.baseURL,
        s.apiKeyEnv,
        key === undefined ? 0 : key.length,
        hashless(key),
      ]);
  }
}

interface Built {
  /** What it was built for (reachRef). */
  readonly ref: string;
  /** The SDK client's connection pool (Anthropic backends). */
  readonly transport: UpstreamFetch | undefined;
  readonly backend: Backend;
}

/**
 * The SDK warns on every call to a deprecated model; once per distinct message is enough
 * (and writing it on the hot path costs more than the call itself).
 */
const seen = new Set<string>();
const once =
  (level: string) =>
  (message: string, ...rest: unknown[]): void => {
    if (seen.has(message) || seen.size > 1000) return;
    seen.add(message);
    process.stderr.write(
      `${JSON.stringify({ level, name: 'anthropic-sdk', msg: message, detail: rest.length > 0 ? String(rest[0]) : undefined })}\n`,
    );
  };
const onceLogger = {
  error: once('error'),
  warn: once('warn'),
  info: () => undefined,
  debug: () => undefined,
};

/** A cheap change detector for a key that keeps no recoverable part of it. */
function hashless(key: string | undefined): number {
  if (key === undefined) return 0;
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return h;
}

/** The guard as the provider layer uses it: its attempts carry the backend they go to. */
export type RuntimeGuard = ProviderGuard<Backend>;
/** One attempt at one backend. */
export type BackendAttempt = AttemptInfo<Backend>;
