/**
 * Policy edit → applied by every replica: a RateLimitPolicy edit through the API, timed until
 * every running pod of the agent reports the new hash in its `breakwater.dev/policy-hash`
 * annotation. Split at the moment the bench's own watch sees the new ConfigMap, into the
 * operator's part (edit → ConfigMap) and the delivery (ConfigMap → every replica); and for
 * each replica apart, into the apply (ConfigMap → the runtime's `policy_change` audit record,
 * from its log) and the report (that record → the bench's watch seeing the pod's new hash).
 * The pods run on the bench's host, so their log times and the bench's share one clock.
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
  /** A pod's logs (every container's), read once after the edits. */
  readonly podLogs: (pod: string) => Promise<string>;
  readonly log: (line: string) => void;
}

export interface ReloadResult {
  readonly total: Summary & { readonly samples_ms: number[] };
  readonly operatorToConfigMap: Summary;
  readonly configMapToAllReplicas: Summary;
  /** Per replica and edit: the ConfigMap seen → the runtime's `policy_change` record. */
  readonly configMapToApplied: Summary;
  /** Per replica and edit: the `policy_change` record → the bench seeing the pod's new hash. */
  readonly appliedToSeen: Summary;
  /** Replica-edits whose `policy_change` record was not in the pod's log. */
  readonly appliesNotFound: number;
  /**
   * Per edit: the edit → the last replica's `policy_change` record (every replica running the
   * new policy), for the edits whose every replica's record was found.
   */
  readonly editToAllApplied: Summary;
  /** The bench's own patch of every pod at once until its watch saw it: per pod, and all. */
  readonly barePatches: { readonly each: Summary; readonly all: Summary };
}

/** When one replica took one edit: the hash it reported, and when the bench saw it. */
interface ReplicaSeen {
  readonly edit: number;
  readonly editedAt: number;
  readonly pod: string;
  readonly hash: string;
  readonly configMapAt: number;
  readonly seenAt: number;
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
  const seen: ReplicaSeen[] = [];
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
    // Each replica's first event with a new hash, judged as every event arrives.
    const seenNow = new Map<string, { hash: string; at: number }>();
    const appliedAt = inputs.pods.when(
      (items) => {
        const pods = live(items);
        for (const p of pods) {
          const name = p.metadata?.name;
          const hash = hashOf(p);
          if (name !== undefined && hash !== undefined && hash !== before && !seenNow.has(name))
            seenNow.set(name, { hash, at: Date.now() });
        }
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
      for (const [pod, { hash, at }] of seenNow)
        seen.push({ edit: i, editedAt, pod, hash, configMapAt: cm, seenAt: at });
      inputs.log(
        `reload ${String(i - inputs.warmup + 1)}/${String(inputs.edits)}: ${String(all - editedAt)} ms ` +
          `(ConfigMap after ${String(cm - editedAt)} ms)`,
      );
    }
    // Let the status writes of this edit settle before the next one.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const apply = await appliesOf(seen, inputs.podLogs);
  return {
    total: { ...summarize(total), samples_ms: total },
    operatorToConfigMap: summarize(operator),
    configMapToAllReplicas: summarize(delivery),
    ...apply,
    barePatches: await barePatches(inputs),
  };
}

const PING_ANNOTATION = 'bench.breakwater.dev/ping';

/**
 * The floor under a replica's report: the bench itself merge-patches one annotation on every
 * replica's pod at once, as the replicas patch theirs after an edit, and times each patch until
 * its watch sees it, and the round until it has seen all.
 */
async function barePatches(inputs: ReloadInputs): Promise<ReloadResult['barePatches']> {
  const each: number[] = [];
  const all: number[] = [];
  for (let i = 0; i < inputs.edits; i++) {
    const value = `ping-${String(Date.now())}-${String(i)}`;
    const pods = live(inputs.pods.items()).flatMap((p) =>
      p.metadata?.name === undefined ? [] : [p.metadata.name],
    );
    const seenAt = new Map<string, number>();
    const allSeen = inputs.pods.when(
      (items) => {
        for (const p of live(items)) {
          const name = p.metadata?.name;
          if (name !== undefined && p.metadata?.annotations?.[PING_ANNOTATION] === value)
            if (!seenAt.has(name)) seenAt.set(name, Date.now());
        }
        return pods.every((name) => seenAt.has(name));
      },
      EDIT_TIMEOUT_MS,
      `bare patch ${String(i)} seen on every pod`,
    );
    const started = Date.now();
    const sentAt = new Map<string, number>();
    await Promise.all(
      pods.map(async (name) => {
        sentAt.set(name, Date.now());
        await inputs.client.patch(
          Kinds.Pod,
          inputs.namespace,
          name,
          { metadata: { annotations: { [PING_ANNOTATION]: value } } },
          'merge',
        );
      }),
    );
    all.push((await allSeen) - started);
    for (const [name, at] of seenAt) each.push(at - (sentAt.get(name) ?? started));
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return { each: summarize(each), all: summarize(all) };
}

/**
 * Splits each replica's delivery at its `policy_change` audit record: the runtime's log line
 * for the hash, with its ISO time (the audit log's timestamps are milliseconds).
 */
async function appliesOf(
  seen: readonly ReplicaSeen[],
  podLogs: (pod: string) => Promise<string>,
): Promise<
  Pick<
    ReloadResult,
    'configMapToApplied' | 'appliedToSeen' | 'appliesNotFound' | 'editToAllApplied'
  >
> {
  const appliedAt = new Map<string, number>();
  for (const pod of new Set(seen.map((s) => s.pod))) {
    for (const line of (await podLogs(pod)).split('\n')) {
      if (!line.includes('"policy_change"')) continue;
      const record = JSON.parse(line) as { hash?: string; time?: string };
      if (record.hash !== undefined && record.time !== undefined)
        appliedAt.set(`${pod} ${record.hash}`, Date.parse(record.time));
    }
  }
  const toApplied: number[] = [];
  const toSeen: number[] = [];
  let notFound = 0;
  // Per edit: when its last replica applied it, or undefined once one replica's record is missing.
  const lastApplied = new Map<number, { editedAt: number; at: number | undefined }>();
  for (const s of seen) {
    const at = appliedAt.get(`${s.pod} ${s.hash}`);
    const edit = lastApplied.get(s.edit) ?? { editedAt: s.editedAt, at: 0 };
    lastApplied.set(s.edit, {
      editedAt: s.editedAt,
      at: at === undefined || edit.at === undefined ? undefined : Math.max(edit.at, at),
    });
    if (at === undefined) {
      notFound++;
      continue;
    }
    toApplied.push(at - s.configMapAt);
    toSeen.push(s.seenAt - at);
  }
  const toAllApplied = [...lastApplied.values()].flatMap(({ editedAt, at }) =>
    at === undefined ? [] : [at - editedAt],
  );
  return {
    configMapToApplied: summarize(toApplied),
    appliedToSeen: summarize(toSeen),
    appliesNotFound: notFound,
    editToAllApplied: summarize(toAllApplied),
  };
}
