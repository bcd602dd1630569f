/**
 * The policies test/clients/ runs the real clients against, each described once and expressed
 * in either local runtime mode: a policy file (`--policy`) or the resources a cluster would
 * hold (`--manifests`: an AgentDeployment, its CircuitBreakerPolicy and RateLimitPolicy, the
 * provider key's and the client keys' Secrets). test/clients/modesAgree.test.ts checks that
 * both expressions resolve to the same settings.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { startRuntime, type RuntimeHandle } from './runtimeProcess.ts';
import { PRIMARY_MODEL, policyDocument, standaloneRuntime } from './standaloneRuntime.ts';
import { waitFor } from './waitFor.ts';

export const CLIENT_KEY = 'bw-clients-key';

/** How a runtime on this machine reads its policy. */
export type LocalMode = 'policy' | 'manifests';

export const LOCAL_MODES: readonly LocalMode[] = ['policy', 'manifests'];

/** `spec.openAnswer.retryAfter`, or unset. */
export type OpenAnswerMode = 'unset' | 'Bounded' | 'Remaining';

export const OPEN_ANSWER_MODES: readonly OpenAnswerMode[] = ['unset', 'Bounded', 'Remaining'];

/** One runtime's policy; unset fields keep the defaults of policyDocument(). */
export interface ClientPolicy {
  /** Client keys enforced: CLIENT_KEY is the one key. */
  readonly clientKeys?: boolean;
  readonly failureThreshold?: number;
  /** One request, then the rate limiter's 429. */
  readonly limited?: boolean;
  /**
   * ForcedOpen, answering as the mode says. Remaining: one second open, so `retry-after: 1`.
   * Bounded: open for an hour (a ForcedOpen says at most 60 s) with `maxRetryAfter: 1s`.
   */
  readonly forcedOpen?: OpenAnswerMode;
}

/** What the clients need of a runtime, in either mode. */
export interface ClientRuntime {
  readonly runtime: RuntimeHandle;
  stop(): Promise<void>;
}

const REASON = 'clients: provider down';
const PROVIDER_KEY = 'sk-test-clients-provider-key';
const NAMESPACE = 'clients';
const CLIENT_KEYS_SECRET = 'clients';

/** The policy as a `--policy` document. */
export function clientPolicyDocument(simUrl: string, policy: ClientPolicy): PolicyDocument {
  return policyDocument(simUrl, (d) => {
    if (policy.clientKeys === true) d.access = { clientKeysSecret: CLIENT_KEYS_SECRET };
    if (policy.failureThreshold !== undefined) {
      d.circuitBreaker.failureThreshold = policy.failureThreshold;
    }
    if (policy.limited === true) {
      d.rateLimit.requests = { replicaPerSecond: 0.001, replicaBurst: 1 };
      d.rateLimit.onLimit = 'Reject';
    }
    const open = policy.forcedOpen;
    if (open !== undefined) {
      d.circuitBreaker.override = { state: 'ForcedOpen', reason: REASON };
      d.circuitBreaker.openDurationMs = open === 'Bounded' ? 3_600_000 : 1_000;
      if (open !== 'unset') d.circuitBreaker.openRetryAfter = open;
      if (open === 'Bounded') d.circuitBreaker.openMaxRetryAfterMs = 1_000;
    }
  });
}

/**
 * The policy as the resources `--manifests` reads: the same settings as clientPolicyDocument's,
 * spelled as the API's specs (the sample document's values where the policy says nothing).
 */
export function clientManifests(name: string, simUrl: string, policy: ClientPolicy): string {
  const meta = (n: string) => ({ name: n, namespace: NAMESPACE });
  const open = policy.forcedOpen;
  const resources: object[] = [
    {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'AgentDeployment',
      metadata: meta(name),
      spec: {
        model: { name: PRIMARY_MODEL, maxTokens: 64 },
        systemPrompt: 'You are helpful.',
        provider: { baseURL: simUrl, apiKeySecretRef: { name: 'provider', key: 'api-key' } },
        timeout: '30s',
        streamIdleTimeout: '60s',
        retry: { maxAttempts: 1, backoff: { initialDelay: '10ms', maxDelay: '50ms' } },
        circuitBreakerPolicyRef: { name },
        rateLimitPolicyRef: { name },
        ...(policy.clientKeys === true
          ? { access: { clientKeysSecretRef: { name: CLIENT_KEYS_SECRET } } }
          : {}),
      },
    },
    {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'CircuitBreakerPolicy',
      metadata: meta(name),
      spec: {
        failureThreshold: policy.failureThreshold ?? 5,
        successThreshold: 2,
        openDuration: open === 'Bounded' ? '1h' : open === undefined ? '60s' : '1s',
        failOn: ['ServerError', 'Overloaded', 'Timeout', 'ConnectionError'],
        ...(open === undefined || open === 'unset'
          ? {}
          : {
              openAnswer: {
                retryAfter: open,
                ...(open === 'Bounded' ? { maxRetryAfter: '1s' } : {}),
              },
            }),
        ...(open === undefined ? {} : { override: { state: 'ForcedOpen', reason: REASON } }),
      },
    },
    {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'RateLimitPolicy',
      metadata: meta(name),
      spec: {
        requests:
          policy.limited === true
            ? { perSecond: 0.001, burst: 1 }
            : { perSecond: 10_000, burst: 10_000 },
        concurrency: { maxConcurrent: 100, maxQueue: 100, queueTimeout: '5s' },
        adaptive: { honorRetryAfter: true, providerHeaders: true },
        onLimit: 'Reject',
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta('provider'),
      stringData: { 'api-key': PROVIDER_KEY },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(CLIENT_KEYS_SECRET),
      stringData: { clients: CLIENT_KEY },
    },
  ];
  return resources.map((r) => stringify(r)).join('---\n');
}

let named = 0;

/** A runtime on `policy` in `mode`, ready to serve. */
export async function startClientRuntime(
  mode: LocalMode,
  simUrl: string,
  policy: ClientPolicy,
): Promise<ClientRuntime> {
  if (mode === 'policy') {
    return standaloneRuntime(
      clientPolicyDocument(simUrl, policy),
      policy.clientKeys === true ? { BREAKWATER_CLIENT_KEYS: CLIENT_KEY } : {},
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'bw-client-manifests-'));
  const name = `clients-${String((named += 1))}`;
  writeFileSync(join(dir, 'agent.yaml'), clientManifests(name, simUrl, policy));
  const stop = async (runtime?: RuntimeHandle) => {
    await runtime?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  let runtime: RuntimeHandle | undefined;
  try {
    runtime = await startRuntime(['--manifests', dir, '--agent', name, '--log-level', 'info']);
    const url = `${runtime.url}/health/ready`;
    await waitFor(
      async () => {
        const status = (await fetch(url)).status;
        if (status !== 200) throw new Error(`/health/ready is ${String(status)}`);
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 20, description: `${name} ready on its manifests` },
    );
    const started = runtime;
    return { runtime: started, stop: () => stop(started) };
  } catch (error) {
    await stop(runtime);
    throw error;
  }
}
