/**
 * The demo's objects, built from what the environment knows at run time (the simulator's
 * URL, or the real API). Pure: no I/O, so `make up` and `make demo` apply the same thing.
 *
 * The numbers are chosen for a short demo: the breaker opens after three consecutive
 * failures and tries again after six seconds; each replica takes 20 requests a second
 * (the live edit later cuts that to one, so its effect shows as 429s at once).
 */
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../contract/src/api/resources.ts';
import { GROUP_VERSION } from '../contract/src/api/resources.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../contract/src/api/sampleModels.ts';
import {
  AGENT_NAME,
  BREAKER_POLICY_NAME,
  DEMO_NAMESPACE,
  PROVIDER_SECRET_NAME,
  RATE_LIMIT_POLICY_NAME,
  REPLICAS,
} from './demoLayout.ts';

/** Where the agent's model calls go. */
export type Provider =
  { readonly kind: 'simulator'; readonly url: string } | { readonly kind: 'anthropic' };

export const ANTHROPIC_URL = 'https://api.anthropic.com';
export const PROVIDER_SECRET_KEY = 'api-key';
/** What the simulator accepts; the real key never appears in a manifest file. */
const SIMULATOR_KEY = 'sk-demo-simulator-key';

/** The rate limit before and after the live edit. */
export const LIMITS_BEFORE = { perSecond: 20, burst: 40 } as const;
export const LIMITS_AFTER = { perSecond: 1, burst: 1 } as const;

export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

export function namespaceManifest(): ManifestObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: DEMO_NAMESPACE },
  };
}

/** The provider key Secret; for the real API the key comes from the caller's environment. */
export function providerSecret(apiKey: string = SIMULATOR_KEY): ManifestObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PROVIDER_SECRET_NAME, namespace: DEMO_NAMESPACE },
    type: 'Opaque',
    stringData: { [PROVIDER_SECRET_KEY]: apiKey },
  };
}

export function breakerPolicy(): CircuitBreakerPolicy {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'CircuitBreakerPolicy',
    metadata: { name: BREAKER_POLICY_NAME, namespace: DEMO_NAMESPACE },
    spec: {
      failureThreshold: 3,
      successThreshold: 2,
      openDuration: '6s',
      halfOpenMaxCalls: 1,
      mode: 'Enforce',
    },
  };
}

export function rateLimitPolicy(): RateLimitPolicy {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'RateLimitPolicy',
    metadata: { name: RATE_LIMIT_POLICY_NAME, namespace: DEMO_NAMESPACE },
    spec: {
      requests: { ...LIMITS_BEFORE },
      concurrency: { maxConcurrent: 10, maxQueue: 20, queueTimeout: '2s' },
      scope: 'PerReplica',
      onLimit: 'Reject',
      mode: 'Enforce',
    },
  };
}

export function agentDeployment(provider: Provider): AgentDeployment {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'AgentDeployment',
    metadata: { name: AGENT_NAME, namespace: DEMO_NAMESPACE },
    spec: {
      model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
      systemPrompt: 'You are the Breakwater demo agent. Answer in one short sentence.',
      provider: {
        apiKeySecretRef: { name: PROVIDER_SECRET_NAME, key: PROVIDER_SECRET_KEY },
        baseURL: provider.kind === 'simulator' ? provider.url : ANTHROPIC_URL,
      },
      circuitBreakerPolicyRef: { name: BREAKER_POLICY_NAME },
      rateLimitPolicyRef: { name: RATE_LIMIT_POLICY_NAME },
      timeout: '5s',
      retry: { maxAttempts: 2, backoff: { initialDelay: '100ms', maxDelay: '500ms' } },
      replicas: REPLICAS,
      // Short, so that stopping the demo does not wait on idle pods.
      terminationDrainDuration: '1s',
      terminationGracePeriodSeconds: 5,
    },
  };
}

/** Everything but the namespace and the Secret, in the order they are applied. */
export function demoObjects(provider: Provider): ManifestObject[] {
  return [breakerPolicy(), rateLimitPolicy(), agentDeployment(provider)].map(
    (object) => object as unknown as ManifestObject,
  );
}

/** The merge patch of the live edit. */
export function rateLimitEdit(): { spec: { requests: { perSecond: number; burst: number } } } {
  return { spec: { requests: { ...LIMITS_AFTER } } };
}
