/**
 * The RateLimitPolicy's StoreAvailable condition, from what the running pods of the agents
 * that use it report in `breakwater.dev/rate-limit-store`: True while every reporting replica
 * decides on the store, False with the commonest reason while any has fallen back to
 * its per-replica share (of the budgets too, when the policy has any: the store keeps them
 * beside the limits; a merely slow store still decides them, and the message says so).
 * Pure; computeRateLimitPolicyStatus sets it.
 */
import type { RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import type { RedisServer } from '../../../contract/src/api/v1alpha1/common.ts';
import {
  RATE_LIMIT_STORE_ANNOTATION,
  decodeStoreReport,
  type StoreFallbackReason,
  type StoreReport,
} from '../../../contract/src/reporting/storeReport.ts';
import type { ConditionUpdate } from './conditions.ts';
import type { PodView } from './views.ts';

export const STORE_CONDITION = 'StoreAvailable';

/** What to check for each reason: the condition's message ends with it. */
const FIX: Readonly<Record<StoreFallbackReason, string>> = {
  AuthenticationFailed:
    'the server refused the password: check the Secret key spec.store.redis.passwordSecretRef names (and username)',
  SecretMissing:
    'the store Secret is not mounted: check that the Secret and key in spec.store.redis exist in this namespace',
  Unreachable:
    'the server does not answer: check spec.store.redis.address (or sentinel, or cluster), the Service and NetworkPolicies (and tls)',
  Slow: 'the server answers slower than spec.store.waitBudget: check its load and latency, or raise the budget',
  StoreError:
    'the server refused the scripts: check that it is Redis or Valkey 7 or later, not read-only',
  Connecting: 'the replicas are connecting',
  FailingOver:
    'the server is a replica, loading, or cut off from its primary (READONLY, LOADING, MASTERDOWN): a failover is under way; with spec.store.redis.sentinel or cluster the replicas follow the promoted primary, with address check that it names the primary',
};

/**
 * What to check when a cluster does not answer: mostly one node, which the pod's message names
 * (clusterClient.ts), and the replicas go back on the store by themselves once it is replaced.
 * `field` is where the store is configured (spec.store.redis, spec.durability.store.redis).
 */
export function clusterUnreachableFix(field: string): string {
  return `a cluster node does not answer (the pod's message names it): the replicas go back on the store without a restart once the cluster promotes its replica (after cluster-node-timeout) or the node is back; check that node and its replica, else ${field}.cluster.addresses, the addresses the nodes announce, NetworkPolicies (and tls)`;
}

/** Most telling first: a wrong password explains an unreachable-looking store. */
const PRIORITY: readonly StoreFallbackReason[] = [
  'AuthenticationFailed',
  'SecretMissing',
  'StoreError',
  'FailingOver',
  'Unreachable',
  'Slow',
  'Connecting',
];

interface PodReport {
  readonly pod: string;
  readonly report: StoreReport;
}

/** The store as the condition's message names it: its address, its sentinels' master, its cluster. */
export function storeName(redis: RedisServer): string {
  const { sentinel, cluster } = redis;
  if (cluster !== undefined) return `the cluster at ${cluster.addresses.join(', ')}`;
  if (sentinel === undefined) return redis.address ?? '';
  return `${sentinel.masterName} (through sentinels ${sentinel.addresses.join(', ')})`;
}

/** Undefined when the policy names no store (the condition is then removed). */
export function storeCondition(
  policy: RateLimitPolicy,
  pods: readonly PodView[],
): ConditionUpdate | undefined {
  const store = policy.spec.store;
  if (store === undefined) return undefined;
  const address = storeName(store.redis);
  // With budgets, the store keeps them too, and a replica that falls back holds its share of both.
  const budgets = (policy.spec.budgets?.length ?? 0) > 0;
  const reports: PodReport[] = [];
  for (const p of pods) {
    if (p.status?.phase !== 'Running') continue;
    const report = decodeStoreReport(p.metadata?.annotations?.[RATE_LIMIT_STORE_ANNOTATION]);
    // A replica that has just started is connecting for milliseconds: counting it would flip
    // the condition on every rollout. One that cannot connect reports Unreachable soon enough.
    if (report === undefined || report.reason === 'Connecting') continue;
    reports.push({ pod: p.metadata?.name ?? '', report });
  }
  if (reports.length === 0) {
    return {
      type: STORE_CONDITION,
      status: 'Unknown',
      reason: 'NoReports',
      message: `no running replica has reported on the store at ${address} yet`,
    };
  }
  const fallen = reports.filter((r) => r.report.state === 'Fallback');
  if (fallen.length === 0) {
    return {
      type: STORE_CONDITION,
      status: 'True',
      reason: 'Shared',
      message: `${String(reports.length)} replicas keep exact counters${budgets ? ' and budgets' : ''} in ${address}`,
    };
  }
  const reason = PRIORITY.find((r) => fallen.some((f) => f.report.reason === r)) ?? 'Unreachable';
  const example = fallen.find((f) => f.report.reason === reason) ?? fallen[0];
  const said = example?.report.message === undefined ? '' : `: ${example.report.message}`;
  const fix =
    reason === 'Unreachable' && store.redis.cluster !== undefined
      ? clusterUnreachableFix('spec.store.redis')
      : FIX[reason];
  // A slow store still decides budgets (a budgeted call waits for its answer): say which
  // replicas hold their share of the budgets too, not only of the limits.
  const budgetsOnShare = fallen.filter((f) => f.report.budgets !== 'Store').length;
  let share = '';
  if (budgets && budgetsOnShare === fallen.length) share = ' of the rate limits and budgets';
  else if (budgets && budgetsOnShare === 0)
    share = ' of the rate limits; their budgets still wait for the store (up to 2 s a call)';
  else if (budgets)
    share = ` of the rate limits (${String(budgetsOnShare)} of the budgets too; the others' budgets still wait for the store)`;
  return {
    type: STORE_CONDITION,
    status: 'False',
    reason,
    message:
      `${String(fallen.length)} of ${String(reports.length)} replicas fall back to their per-replica share${share};` +
      ` ${fix} (pod ${example?.pod ?? ''}${said})`,
  };
}
