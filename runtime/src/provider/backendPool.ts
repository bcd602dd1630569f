/**
 * One `@anthropic-ai/sdk` client per backend, built from the policy and the environment.
 * `maxRetries: 0`: the guard decides about retries, not the SDK. A client is rebuilt only
 * when its base URL or key changes, so a policy reload keeps warm connections. Each client
 * sends through its own keep-alive pool (`upstreamFetch.ts`); the pass-through path has a
 * pool of its own per backend (`messagesForwarder.ts`).
 * The key is read here and handed to the SDK; it is never stored anywhere it could be printed.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { BackendSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { AttemptInfo, ProviderGuard } from '../guard/guardSet/providerGuard.ts';
import { MessagesForwarder } from './messagesForwarder.ts';
import { upstreamFetch, type UpstreamFetch } from './upstreamFetch.ts';

export interface Backend {
  readonly name: string;
  weight: number;
  readonly baseURL: string;
  readonly apiKeyEnv: string;
  /** False when the environment variable is unset: calls will fail with 401 from the provider. */
  readonly hasKey: boolean;
  /** The SDK client: the agent loop's calls. */
  readonly client: Anthropic;
  /** The pass-through path's connection: `/v1/messages` as the caller sent it. */
  readonly forwarder: MessagesForwarder;
  inFlight: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Sent when the key's variable is unset: the provider answers 401, which callers then see. */
const MISSING_KEY = 'missing-provider-key';
const USER_AGENT = 'breakwater-runtime';

/** The SDK's own timeout only backs up the guard's; it must never fire first. */
const SDK_TIMEOUT_MS = 24 * 3_600_000;

export class BackendPool {
  readonly #env: Env;
  /** Keys from Secrets among `--manifests`; they take the place of the environment's. */
  #keys: Env = {};
  #backends: readonly Backend[] = [];
  /** Per backend name: what its client was built from, and its connection pool. */
  #built = new Map<string, Built>();

  constructor(env: Env) {
    this.#env = env;
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
      // Bedrock and Vertex backends arrive with the provider layer's cloud wire formats.
      if (s.type !== undefined && s.type !== 'Anthropic') continue;
      const key = this.#keys[s.apiKeyEnv] ?? this.#env[s.apiKeyEnv];
      const keyRef = `${s.apiKeyEnv}:${key === undefined ? 0 : key.length}:${hashless(key)}`;
      const old = this.#built.get(s.name);
      if (old !== undefined && old.baseURL === s.baseURL && old.keyRef === keyRef) {
        // The same object: attempts in flight decrement the counter they incremented.
        old.backend.weight = s.weight;
        next.set(s.name, old);
        continue;
      }
      const transport = upstreamFetch(s.baseURL, this.#env);
      const apiKey = key ?? MISSING_KEY;
      const forwarder = new MessagesForwarder(s.baseURL, apiKey, USER_AGENT, this.#env);
      const client = new Anthropic({
        apiKey,
        baseURL: s.baseURL,
        maxRetries: 0,
        timeout: SDK_TIMEOUT_MS,
        logger: onceLogger,
        fetch: transport.fetch,
      });
      next.set(s.name, {
        baseURL: s.baseURL,
        keyRef,
        transport,
        forwarder,
        backend: {
          name: s.name,
          weight: s.weight,
          baseURL: s.baseURL,
          apiKeyEnv: s.apiKeyEnv,
          hasKey: key !== undefined && key !== '',
          client,
          forwarder,
          inFlight: 0,
        },
      });
    }
    for (const [name, old] of this.#built) {
      // Calls in flight on a replaced client finish first; then its connections close.
      if (next.get(name) !== old) {
        void old.transport.close().catch(() => undefined);
        void old.forwarder.close().catch(() => undefined);
      }
    }
    this.#built = next;
    this.#backends = [...next.values()].map((e) => e.backend);
  }
}

interface Built {
  readonly baseURL: string;
  /** The key fingerprint the client was built with (never the key itself). */
  readonly keyRef: string;
  readonly transport: UpstreamFetch;
  readonly forwarder: MessagesForwarder;
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
