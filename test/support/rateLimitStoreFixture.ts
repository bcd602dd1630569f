/**
 * What the rate-limit store tests and `make bench-global` start: an agent of three runtime
 * processes on one RateLimitPolicy (scope Cluster), resolved the way the operator resolves it
 * (`resolveRateLimit` with three ready replicas), with or without a Redis store; and an
 * open-loop load that offers calls at a fixed rate to each replica, whatever answers come back.
 *
 *   const agent = await startAgent(sim.url, ratePolicy({ perSecond: 30, burst: 30 }, redis));
 *   const calls = await offerLoad(agent.replicas.map((r) => r.runtime.url), [32, 4, 4], 5_000);
 */
import { Agent, request } from 'node:http';
import type { RateLimitPolicy } from '../../contract/src/api/resources.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import type { RateLimitPolicySpec } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from './standaloneRuntime.ts';

export const AGENT_NAME = 'shared-agent';
export const REPLICAS = 3;

/** A RateLimitPolicy in namespace `default` named `shared`. */
export function ratePolicy(spec: RateLimitPolicySpec): RateLimitPolicy {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'shared', namespace: 'default', generation: 1 },
    spec: { scope: 'Cluster', ...spec },
  };
}

/** The policy document each replica of the agent gets for `policy`, as the operator writes it. */
export function agentDocument(simulatorUrl: string, policy: RateLimitPolicy): PolicyDocument {
  return policyDocument(simulatorUrl, (doc) => {
    doc.agent = { ...doc.agent, name: AGENT_NAME, namespace: 'default' };
    doc.rateLimit = resolveRateLimit(policy, REPLICAS, AGENT_NAME);
  });
}

export interface StoreAgent {
  /** The replicas running now: a replaced one's place holds its successor. */
  readonly replicas: readonly StandaloneRuntime[];
  /** Every replica ever started, the killed ones too, in the order they started. */
  readonly started: readonly StandaloneRuntime[];
  writePolicy(doc: PolicyDocument): void;
  /**
   * SIGKILLs replica `index` (a lost node: no grace, nothing flushed) and starts another in its
   * place on the latest document, as a Deployment replaces a lost pod.
   */
  replace(index: number): Promise<StandaloneRuntime>;
  stop(): Promise<void>;
}

/** Three runtime processes on one document; `env` reaches each (the store's Secret dir). */
export async function startAgent(
  doc: PolicyDocument,
  env: Readonly<Record<string, string>> = {},
): Promise<StoreAgent> {
  const started = await Promise.allSettled(
    Array.from({ length: REPLICAS }, () => startReplica(doc, env)),
  );
  const replicas = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    // The replicas that did start are stopped, so the test's process can end.
    await Promise.all(replicas.map((r) => r.stop()));
    throw failed.reason;
  }
  const all = [...replicas];
  let latest = doc;
  return {
    replicas,
    started: all,
    writePolicy: (next) => {
      latest = next;
      for (const r of replicas) r.writePolicy(next);
    },
    replace: async (index) => {
      const victim = replicas[index];
      if (victim === undefined) throw new Error(`no replica ${String(index)}`);
      victim.runtime.child.kill('SIGKILL');
      await victim.runtime.exited;
      const successor = await startReplica(latest, env);
      replicas[index] = successor;
      all.push(successor);
      return successor;
    },
    stop: async () => {
      // A killed replica's stop only removes its directory.
      await Promise.all(all.map((r) => r.stop()));
    },
  };
}

/** A replica; a loaded machine may keep a new process from listening in time: one more try. */
function startReplica(
  doc: PolicyDocument,
  env: Readonly<Record<string, string>>,
): Promise<StandaloneRuntime> {
  return standaloneRuntime(doc, env).catch(() => standaloneRuntime(doc, env));
}

export interface OfferedCall {
  readonly replica: number;
  /** When it was sent, ms from the start of the load. */
  readonly sentAtMs: number;
  readonly status: number;
  readonly latencyMs: number;
  /** Usage the answer reported (200 only). */
  readonly usage?: { readonly input_tokens: number; readonly output_tokens: number };
}

const BODY = JSON.stringify({
  model: PRIMARY_MODEL,
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Say hello.' }],
});

/** One call to `/v1/messages`; status 0 when the connection failed. */
export function call(
  url: string,
  agent: Agent,
  body: string = BODY,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/v1/messages`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text });
        });
        res.on('error', () => {
          resolve({ status: 0, body: text });
        });
      },
    );
    req.on('error', () => {
      resolve({ status: 0, body: '' });
    });
    req.end(body);
  });
}

/**
 * Offers `rates[i]` calls a second to `urls[i]` for `durationMs`, evenly spaced and never
 * waiting for answers (open loop: a slow answer does not slow the offer). Resolves with every
 * call once all have answered.
 */
export async function offerLoad(
  urls: readonly string[],
  rates: readonly number[],
  durationMs: number,
  body: string = BODY,
): Promise<OfferedCall[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const start = performance.now();
  const pending: Promise<OfferedCall>[] = [];
  const schedule = urls.flatMap((url, replica) => {
    const rate = rates[replica] ?? 0;
    const count = Math.floor((rate * durationMs) / 1000);
    return Array.from({ length: count }, (_, k) => ({ url, replica, at: (k * 1000) / rate }));
  });
  schedule.sort((a, b) => a.at - b.at);
  for (const next of schedule) {
    const delay = next.at - (performance.now() - start);
    if (delay > 1) await new Promise((resolve) => setTimeout(resolve, delay));
    const sentAtMs = performance.now() - start;
    pending.push(
      call(next.url, agent, body).then(({ status, body: text }) => ({
        replica: next.replica,
        sentAtMs,
        status,
        latencyMs: performance.now() - start - sentAtMs,
        ...(status === 200 ? { usage: usageOf(text) } : {}),
      })),
    );
  }
  const calls = await Promise.all(pending);
  agent.destroy();
  return calls;
}

function usageOf(text: string): { input_tokens: number; output_tokens: number } {
  const parsed = JSON.parse(text) as { usage: { input_tokens: number; output_tokens: number } };
  return { input_tokens: parsed.usage.input_tokens, output_tokens: parsed.usage.output_tokens };
}

/** Calls answered 200 per second, sent in [fromMs, toMs). */
export function admittedPerSecond(
  calls: readonly OfferedCall[],
  fromMs: number,
  toMs: number,
): number {
  const admitted = calls.filter(
    (c) => c.status === 200 && c.sentAtMs >= fromMs && c.sentAtMs < toMs,
  );
  return (admitted.length * 1000) / (toMs - fromMs);
}
