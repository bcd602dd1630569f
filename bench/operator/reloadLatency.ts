/**
 * Policy edit → applied by every replica: a RateLimitPolicy edit through the API, timed until
 * every running pod of the agent reports the new hash in its `breakwater.dev/policy-hash`
 * annotation. Split at the moment the bench's own watch sees the new ConfigMap, into the
 * operator's part (edit → ConfigMap) and the delivery (ConfigMap → every replica).
 */
import type { KubeClient } from '../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { POLICY_HASH_ANNOTATION } from '../../contract/src/policy/policyDocument.ts';
import type { PodView } from '../../test/support/breakwaterCluster.ts';
import { summarize, type Summary } from './percentiles.ts';
import type { WatchedCache } from './watchedCache.ts';

export interface ReloadInputs {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly rateLimitPolicy: string;
  readonly replicas: number;
  readonly edits: number;
  readonly warmup: number;
  readonly pods: WatchedCache<PodView>;
  readonly configMap: WatchedCache<KubeObject>;
  readonly log: (line: string) => void;
}

export interface ReloadResult {
  readonly total: Summary & { readonly samples_ms: number[] };
  readonly operatorToConfigMap: Summary;
  readonly configMapToAllReplicas: Summary;
}

const EDIT_TIMEOUT_MS = 60_000;

const hashOf = (obj: KubeObject | undefined): string | undefined =>
  obj?.metadata?.annotations?.[POLICY_HASH_ANNOTATION];

const live = (pods: readonly PodView[]): PodView[] =>
  pods.filter((p) => p.status?.phase === 'Running' && p.metadata?.deletionTimestamp === undefined);

export async function measureReload(inputs: ReloadInputs): Promise<ReloadResult> {
  const total: number[] = [];
  const operator: number[] = [];
  const delivery: number[] = [];
  for (let i = 0; i < inputs.warmup + inputs.edits; i++) {
    const before = hashOf(inputs.configMap.items()[0]);
    // Both waits are armed before the edit, so neither can miss the moment it happens.
    const configMapAt = inputs.configMap.when(
      (items) => {
        const hash = hashOf(items[0]);
        return hash !== undefined && hash !== before;
      },
      EDIT_TIMEOUT_MS,
      `edit ${String(i)}: the new policy ConfigMap`,
    );
    const appliedAt = inputs.pods.when(
      (items) => {
        const pods = live(items);
        const first = pods[0] === undefined ? undefined : hashOf(pods[0]);
        return (
          pods.length === inputs.replicas &&
          first !== undefined &&
          first !== before &&
          pods.every((p) => hashOf(p) === first)
        );
      },
      EDIT_TIMEOUT_MS,
      `edit ${String(i)}: all ${String(inputs.replicas)} replicas on the new hash`,
    );
    const editedAt = Date.now();
    await inputs.client.patch(
      Kinds.RateLimitPolicy,
      inputs.namespace,
      inputs.rateLimitPolicy,
      // 101, 102, ...: never the starting value (100), so every edit changes the policy.
      { spec: { requests: { perSecond: 101 + i, burst: 200 } } },
      'merge',
    );
    const [cm, all] = await Promise.all([configMapAt, appliedAt]);
    const applied = hashOf(inputs.configMap.items()[0]);
    const podHash = hashOf(live(inputs.pods.items())[0]);
    if (applied !== podHash) {
      throw new Error(
        `edit ${String(i)}: replicas run ${String(podHash)}, ConfigMap has ${String(applied)}`,
      );
    }
    if (i >= inputs.warmup) {
      total.push(all - editedAt);
      operator.push(cm - editedAt);
      delivery.push(Math.max(0, all - cm));
      inputs.log(
        `reload ${String(i - inputs.warmup + 1)}/${String(inputs.edits)}: ${String(all - editedAt)} ms ` +
          `(ConfigMap after ${String(cm - editedAt)} ms)`,
      );
    }
    // Let the status writes of this edit settle before the next one.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return {
    total: { ...summarize(total), samples_ms: total },
    operatorToConfigMap: summarize(operator),
    configMapToAllReplicas: summarize(delivery),
  };
}
