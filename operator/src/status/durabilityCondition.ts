/**
 * The AgentDeployment's DurabilityStoreAvailable condition, from what its running pods report
 * in `breakwater.dev/durable-runs`: True while every reporting replica journals runs in the
 * store, False with the most telling reason while any cannot (their calls go on live and
 * unjournaled — no caller fails), Unknown until one reports. Pure; computeAgentStatus sets it
 * when the agent has `spec.durability`, and drops it when the agent has none.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import {
  DURABLE_RUNS_ANNOTATION,
  decodeDurableReport,
  type DurableReport,
  type DurableStoreReason,
} from '../../../contract/src/reporting/durableReport.ts';
import type { ConditionUpdate } from './conditions.ts';
import type { PodView } from './views.ts';
import { clusterUnreachableFix, storeName } from './storeCondition.ts';

export const DURABILITY_CONDITION = 'DurabilityStoreAvailable';

/** What to check for each reason: the condition's message ends with it. */
const FIX: Readonly<Record<DurableStoreReason, string>> = {
  KeyUnreadable:
    'the journal key or the store Secret cannot be read: check the Secrets spec.durability.encryptionKeySecretRef and store.redis.passwordSecretRef name (the key is 32 bytes: raw, base64 or hex)',
  Unreachable:
    'the server does not answer: check spec.durability.store.redis.address (or sentinel, or cluster), the Service and NetworkPolicies (and tls)',
  StoreError:
    'the server answers with errors or slower than a second: check that it is Redis or Valkey 7 or later, not read-only, and its load',
};

/** Most telling first: an unreadable key explains nothing being journaled. */
const PRIORITY: readonly DurableStoreReason[] = ['KeyUnreadable', 'Unreachable', 'StoreError'];

interface PodReport {
  readonly pod: string;
  readonly report: DurableReport;
}

/** Undefined when the agent has no durability (the condition is then removed). */
export function durabilityCondition(
  agent: AgentDeployment,
  pods: readonly PodView[],
): ConditionUpdate | undefined {
  const durability = agent.spec.durability;
  if (durability === undefined) return undefined;
  const address = storeName(durability.store.redis);
  const reports: PodReport[] = [];
  for (const p of pods) {
    if (p.status?.phase !== 'Running') continue;
    const report = decodeDurableReport(p.metadata?.annotations?.[DURABLE_RUNS_ANNOTATION]);
    // A replica connects for milliseconds after it starts: counting that would flip the
    // condition on every rollout. One that cannot connect reports Unavailable soon enough.
    if (report === undefined || report.store.state === 'Connecting') continue;
    reports.push({ pod: p.metadata?.name ?? '', report });
  }
  if (reports.length === 0)
    return {
      type: DURABILITY_CONDITION,
      status: 'Unknown',
      reason: 'NoReports',
      message: `no running replica has reported on the journal store at ${address} yet`,
    };
  const down = reports.filter((r) => r.report.store.state === 'Unavailable');
  if (down.length === 0)
    return {
      type: DURABILITY_CONDITION,
      status: 'True',
      reason: 'Available',
      message: `${String(reports.length)} replicas journal durable runs in ${address}`,
    };
  const reason =
    PRIORITY.find((r) => down.some((d) => d.report.store.reason === r)) ?? 'Unreachable';
  const example = down.find((d) => d.report.store.reason === reason) ?? down[0];
  const said =
    example?.report.store.message === undefined ? '' : `: ${example.report.store.message}`;
  const fix =
    reason === 'Unreachable' && durability.store.redis.cluster !== undefined
      ? clusterUnreachableFix('spec.durability.store.redis')
      : FIX[reason];
  return {
    type: DURABILITY_CONDITION,
    status: 'False',
    reason,
    message:
      `${String(down.length)} of ${String(reports.length)} replicas cannot journal runs in ${address}: their calls go on live and unjournaled;` +
      ` ${fix} (pod ${example?.pod ?? ''}${said})`,
  };
}
