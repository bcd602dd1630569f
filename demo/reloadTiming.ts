/**
 * How long a policy edit takes to reach every replica: from the moment the edit starts
 * (kubectl is launched) to the moment the last ready pod runs the new policy, read from
 * each pod's `/debug/policy` every 20 ms. The new policy is the one the operator reports in
 * the AgentDeployment's `status.policy.hash` once all replicas applied it; each pod's own
 * `breakwater.dev/policy-hash` annotation is checked against it as well.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient } from '../platform/src/kube/kubeClient.ts';
import { Kinds } from '../platform/src/kube/resourceKinds.ts';
import type { AgentDeployment } from '../contract/src/api/resources.ts';
import { agentPods, type AgentPod } from './agentPods.ts';
import { AGENT_NAME, DEMO_NAMESPACE } from './demoLayout.ts';

export interface ReloadTiming {
  /** Edit started → every replica runs the new policy. */
  readonly ms: number;
  readonly hash: string;
  readonly previousHash: string | undefined;
  readonly replicas: number;
  /** How long the edit command itself took. */
  readonly editMs: number;
  /** Edit started → the AgentDeployment's status says all replicas applied it. */
  readonly statusMs: number;
  /** Every pod's annotation carries the new hash too. */
  readonly annotationsAgree: boolean;
}

const POLL_MS = 20;

export async function timeReload(options: {
  readonly client: KubeClient;
  readonly pods: readonly AgentPod[];
  readonly edit: () => Promise<void>;
  readonly timeoutMs: number;
}): Promise<ReloadTiming> {
  const pods = options.pods.filter(
    (p): p is AgentPod & { metricsUrl: string } => p.ready && p.metricsUrl !== undefined,
  );
  if (pods.length === 0) throw new Error('no ready pod to time the reload on');
  const before = await Promise.all(pods.map((p) => policyHash(p.metricsUrl)));
  const previousHash = before[0];

  // Per pod: when each hash other than its starting one was first seen.
  const seen = pods.map(() => new Map<string, number>());
  let polling = true;
  const started = performance.now();
  const pollers = pods.map(async (pod, index) => {
    const firstSeen = seen[index] ?? new Map<string, number>();
    while (polling) {
      const hash = await policyHash(pod.metricsUrl).catch(() => undefined);
      const at = performance.now();
      if (hash !== undefined && hash !== before[index] && !firstSeen.has(hash)) {
        firstSeen.set(hash, at);
      }
      await sleep(POLL_MS);
    }
  });

  try {
    await options.edit();
    const editMs = performance.now() - started;
    const deadline = started + options.timeoutMs;
    let statusMs: number | undefined;
    let hash: string | undefined;
    while (performance.now() < deadline) {
      const agent = await options.client
        .get<AgentDeployment>(Kinds.AgentDeployment, DEMO_NAMESPACE, AGENT_NAME)
        .catch(() => undefined);
      const policy = agent?.status?.policy;
      if (
        statusMs === undefined &&
        policy?.hash !== undefined &&
        policy.hash !== previousHash &&
        (policy.appliedReplicas ?? 0) >= pods.length
      ) {
        statusMs = performance.now() - started;
        hash = policy.hash;
      }
      if (hash !== undefined && seen.every((m) => m.has(hash ?? ''))) {
        const ms = Math.max(...seen.map((m) => m.get(hash ?? '') ?? Infinity)) - started;
        const annotations = await agentPods(options.client);
        return {
          ms: Math.round(ms),
          hash,
          previousHash,
          replicas: pods.length,
          editMs: Math.round(editMs),
          statusMs: Math.round(statusMs ?? ms),
          annotationsAgree: annotations
            .filter((p) => pods.some((q) => q.name === p.name))
            .every((p) => p.policyHash === hash),
        };
      }
      await sleep(50);
    }
    throw new Error(
      `the edit did not reach all ${pods.length} replicas within ${options.timeoutMs} ms`,
    );
  } finally {
    polling = false;
    await Promise.all(pollers);
  }
}

async function policyHash(metricsUrl: string): Promise<string | undefined> {
  const response = await fetch(`${metricsUrl}/debug/policy`, {
    signal: AbortSignal.timeout(2_000),
  });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { hash?: unknown };
  return typeof body.hash === 'string' ? body.hash : undefined;
}
