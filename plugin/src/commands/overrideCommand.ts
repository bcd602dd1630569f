/**
 * `kubectl breakwater trip <cbp> --for 10m --reason …` and `reset <cbp>`: set or clear the
 * CircuitBreakerPolicy's override (a JSON merge patch of spec.override; trip always with an
 * `until`, so a forgotten override ends by itself), then wait until the operator reports that
 * every replica applies it, and say how many did. Exit status 1 when the wait times out: the
 * override is in place, but not yet everywhere.
 */
import type { AgentDeployment, CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import {
  BREAKERS_ANNOTATION,
  decodeBreakerReport,
} from '../../../contract/src/reporting/breakerReport.ts';
import {
  RUNTIME_ANNOTATION,
  decodeRuntimeReport,
} from '../../../contract/src/reporting/runtimeReport.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { rfc3339Seconds } from '../../../platform/src/time/rfc3339.ts';
import { podsOf, policyNamed } from '../cluster/agentObjects.ts';
import type { PluginKube } from '../cluster/pluginKube.ts';
import type { CommandResult } from '../output/printResult.ts';
import { millis, renderTable } from '../output/table.ts';
import type { ReplicaReport, WantedOverride } from '../override/acknowledgement.ts';
import { waitForAcknowledgement } from '../override/waitForAcknowledgement.ts';

export interface OverrideResult {
  readonly circuitBreakerPolicy: string;
  readonly namespace: string;
  readonly state: WantedOverride;
  readonly reason?: string | undefined;
  readonly until?: string | undefined;
  readonly generation: number;
  readonly acknowledged: boolean;
  /** `3/3`: replicas that apply it, over replicas that use the policy. */
  readonly applied: string;
  readonly agents: readonly {
    readonly name: string;
    readonly applied: number;
    readonly replicas: number;
  }[];
  readonly waitedMs: number;
  readonly detail: string;
}

export type OverrideRequest =
  | { readonly kind: 'trip'; readonly forMs: number; readonly reason: string }
  | { readonly kind: 'reset' };

export async function overrideCommand(
  kube: PluginKube,
  namespace: string,
  name: string,
  request: OverrideRequest,
  options: { readonly timeoutMs: number; readonly clock: Clock },
): Promise<CommandResult<OverrideResult>> {
  await policyNamed(kube, namespace, name); // a missing policy is named before any patch
  const until =
    request.kind === 'trip' ? rfc3339Seconds(options.clock.now() + request.forMs) : undefined;
  const override =
    request.kind === 'trip'
      ? { state: 'ForcedOpen', reason: request.reason, until }
      : // Clearing the whole override (not state: Auto) leaves no stale reason or until behind.
        null;
  const patched = await kube.patch<CircuitBreakerPolicy>(
    Kinds.CircuitBreakerPolicy,
    namespace,
    name,
    { spec: { override } },
    'merge',
  );
  const generation = patched.metadata.generation ?? 0;
  const wanted: WantedOverride = request.kind === 'trip' ? 'ForcedOpen' : 'Auto';
  const outcome = await waitForAcknowledgement({
    read: async () => {
      const policy = await policyNamed(kube, namespace, name);
      return wanted === 'Auto'
        ? { policy, replicas: await replicaReports(kube, policy) }
        : { policy };
    },
    wanted,
    generation,
    timeoutMs: options.timeoutMs,
    clock: options.clock,
  });
  const { ack } = outcome;
  return {
    data: {
      circuitBreakerPolicy: name,
      namespace,
      state: wanted,
      ...(request.kind === 'trip' ? { reason: request.reason, until } : {}),
      generation,
      acknowledged: outcome.acknowledged,
      applied: `${String(ack.applied)}/${String(ack.replicas)}`,
      agents: ack.agents,
      waitedMs: outcome.waitedMs,
      detail: ack.detail,
    },
    table: overrideText,
  };
}

export function overrideText(r: OverrideResult): string {
  const what =
    r.state === 'Auto'
      ? `circuitbreakerpolicy.breakwater.dev/${r.circuitBreakerPolicy} override cleared (breakers back to Auto)`
      : `circuitbreakerpolicy.breakwater.dev/${r.circuitBreakerPolicy} ${r.state} until ${r.until ?? '?'} (${r.reason ?? ''})`;
  const head = r.acknowledged
    ? `${what}: applied on ${r.applied} replicas after ${millis(r.waitedMs)}\n`
    : `${what}: NOT acknowledged on every replica after ${millis(r.waitedMs)} (${r.applied} so far): ${r.detail}\n`;
  if (r.agents.length === 0) return head;
  return `${head}${renderTable(
    ['agent', 'applied'],
    r.agents.map((a) => [a.name, `${String(a.applied)}/${String(a.replicas)}`]),
  )}`;
}

/** What every replica of the agents that use the policy reports: is a breaker still forced? */
async function replicaReports(
  kube: PluginKube,
  policy: CircuitBreakerPolicy,
): Promise<ReplicaReport[]> {
  const namespace = policy.metadata.namespace ?? 'default';
  const { items } = await kube.list<AgentDeployment>(Kinds.AgentDeployment, { namespace });
  const users = items.filter((a) => a.spec.circuitBreakerPolicyRef?.name === policy.metadata.name);
  const reports = await Promise.all(
    users.map(async (agent) =>
      (await podsOf(kube, agent))
        .filter((p) => p.status?.phase === 'Running')
        .map((pod) => ({
          agent: agent.metadata.name ?? '',
          // What the replica says it applies; its breakers' states say it too.
          forced:
            decodeRuntimeReport(pod.metadata?.annotations?.[RUNTIME_ANNOTATION])?.override !==
              undefined ||
            Object.values(
              decodeBreakerReport(pod.metadata?.annotations?.[BREAKERS_ANNOTATION]),
            ).some((b) => b.state === 'ForcedOpen' || b.state === 'ForcedClosed'),
        })),
    ),
  );
  return reports.flat();
}
