/**
 * `kubectl breakwater explain <agent>`: why an agent is not Ready, in one place — the
 * conditions the operator set, what its children say (Deployment, pods, HorizontalPodAutoscaler,
 * the policies it names) and the Events about any of them. Gathering reads; `explainAgent` is
 * pure, so every rule is a table test.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { agentNamed, isPodReady, podsOf, type PodObject } from '../cluster/agentObjects.ts';
import type { PluginKube } from '../cluster/pluginKube.ts';
import type { CommandResult } from '../output/printResult.ts';
import { age, renderTable } from '../output/table.ts';

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface DeploymentObject extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    conditions?: Condition[];
  };
}

export interface AutoscalerObject extends KubeObject {
  spec?: { minReplicas?: number; maxReplicas?: number };
  status?: { currentReplicas?: number; desiredReplicas?: number; conditions?: Condition[] };
}

export interface EventObject extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
  lastTimestamp?: string;
  eventTime?: string;
}

export interface ExplainInputs {
  readonly agent: AgentDeployment;
  readonly deployment: DeploymentObject | undefined;
  readonly pods: readonly PodObject[];
  readonly autoscaler: AutoscalerObject | undefined;
  /** Policies the agent names that do not exist, as `Kind name`. */
  readonly missingPolicies: readonly string[];
  readonly events: readonly EventObject[];
  readonly nowMs: number;
}

export interface Explanation {
  readonly agent: string;
  readonly namespace: string;
  readonly ready: boolean;
  /** One sentence. */
  readonly verdict: string;
  /** Each thing that keeps it from Ready (or that on-call should know), most telling first. */
  readonly reasons: readonly string[];
  readonly conditions: readonly Condition[];
  readonly children: readonly {
    readonly kind: string;
    readonly name: string;
    readonly state: string;
  }[];
  readonly events: readonly {
    readonly age: string;
    readonly type: string;
    readonly reason: string;
    readonly object: string;
    readonly message: string;
  }[];
}

/** How many Events explain shows, newest last. */
const EVENTS = 10;

export async function explainCommand(
  kube: PluginKube,
  namespace: string,
  name: string,
  nowMs: number,
): Promise<CommandResult<Explanation>> {
  const agent = await agentNamed(kube, namespace, name);
  const [deployment, autoscaler, pods, events, missingPolicies] = await Promise.all([
    kube.get<DeploymentObject>(Kinds.Deployment, namespace, name),
    kube.get<AutoscalerObject>(Kinds.HorizontalPodAutoscaler, namespace, name),
    podsOf(kube, agent),
    kube.list<EventObject>(Kinds.Event, { namespace }).then((l) => l.items),
    missingPoliciesOf(kube, agent),
  ]);
  return {
    data: explainAgent({ agent, deployment, autoscaler, pods, events, missingPolicies, nowMs }),
    table: explainText,
  };
}

async function missingPoliciesOf(kube: PluginKube, agent: AgentDeployment): Promise<string[]> {
  const namespace = agent.metadata.namespace;
  // The MCP servers' policies too: each governs its server's tool breakers.
  const refs = [
    [Kinds.CircuitBreakerPolicy, agent.spec.circuitBreakerPolicyRef?.name],
    [Kinds.RateLimitPolicy, agent.spec.rateLimitPolicyRef?.name],
    ...(agent.spec.mcpServers ?? []).map(
      (s) => [Kinds.CircuitBreakerPolicy, s.circuitBreakerPolicyRef?.name] as const,
    ),
  ] as const;
  const missing: string[] = [];
  for (const [kind, ref] of refs) {
    const text = `${kind.kind} ${ref ?? ''}`;
    if (ref === undefined || missing.includes(text)) continue;
    if ((await kube.get(kind, namespace, ref)) === undefined) missing.push(text);
  }
  return missing;
}

/** Conditions that are bad news in this state (kstatus reads Reconciling/Stalled as abnormal-true). */
const BAD_WHEN: Readonly<Record<string, string>> = {
  Ready: 'False',
  Stalled: 'True',
  Reconciling: 'True',
  PoliciesResolved: 'False',
  PoliciesApplied: 'False',
  MonitoringConfigured: 'False',
  ScaleOutHeld: 'True',
  ModelRetiring: 'True',
  McpServersReachable: 'False',
  OverrideApplied: 'False',
};

export function explainAgent(inputs: ExplainInputs): Explanation {
  const { agent, deployment, autoscaler, pods } = inputs;
  const name = agent.metadata.name ?? '';
  const namespace = agent.metadata.namespace ?? 'default';
  const conditions: Condition[] = agent.status?.conditions ?? [];
  const ready = conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  const reasons: string[] = [];

  if (agent.status === undefined || conditions.length === 0)
    reasons.push(
      `the operator has not reported on it: is breakwater-operator running, and watching namespace ${namespace}?`,
    );
  else if ((agent.status.observedGeneration ?? 0) < (agent.metadata.generation ?? 0))
    reasons.push(
      `the operator has not yet seen generation ${String(agent.metadata.generation)} (status is of ${String(agent.status.observedGeneration ?? 0)})`,
    );
  for (const missing of inputs.missingPolicies)
    reasons.push(
      `${missing} does not exist: the agent runs with that policy's defaults until it does`,
    );
  for (const c of conditions) {
    if (BAD_WHEN[c.type] === c.status && c.type !== 'Ready')
      reasons.push(`${c.type}=${c.status} (${c.reason ?? ''})${c.message ? `: ${c.message}` : ''}`);
  }

  const children: { kind: string; name: string; state: string }[] = [];
  if (deployment === undefined) {
    children.push({ kind: 'Deployment', name, state: 'missing' });
    if (agent.status !== undefined) reasons.push(`Deployment ${name} does not exist`);
  } else {
    const s = deployment.status ?? {};
    children.push({
      kind: 'Deployment',
      name,
      state: `${String(s.readyReplicas ?? 0)}/${String(deployment.spec?.replicas ?? 0)} ready, ${String(s.updatedReplicas ?? 0)} up to date`,
    });
    // Available and Progressing are good when True; ReplicaFailure is bad when True.
    for (const c of s.conditions ?? []) {
      if ((c.type === 'ReplicaFailure') === (c.status === 'True'))
        reasons.push(
          `Deployment ${name}: ${c.type}=${c.status} (${c.reason ?? ''})${c.message ? `: ${c.message}` : ''}`,
        );
    }
  }
  for (const pod of pods) {
    const state = podState(pod);
    children.push({ kind: 'Pod', name: pod.metadata?.name ?? '', state: state.text });
    if (state.problem !== undefined)
      reasons.push(`pod ${pod.metadata?.name ?? ''}: ${state.problem}`);
  }
  if (pods.length === 0 && (deployment?.spec?.replicas ?? 0) > 0)
    reasons.push('no pods exist for the Deployment yet: see its ReplicaSet Events below');
  if (autoscaler !== undefined) {
    const spec = autoscaler.spec ?? {};
    const held =
      agent.spec.autoscaling !== undefined &&
      spec.maxReplicas !== undefined &&
      spec.maxReplicas < agent.spec.autoscaling.maxReplicas;
    children.push({
      kind: 'HorizontalPodAutoscaler',
      name,
      state: `${String(spec.minReplicas ?? 1)}..${String(spec.maxReplicas ?? '?')}${held ? ` (held; spec ${String(agent.spec.autoscaling?.maxReplicas)})` : ''}, current ${String(autoscaler.status?.currentReplicas ?? 0)}, desired ${String(autoscaler.status?.desiredReplicas ?? 0)}`,
    });
    for (const c of autoscaler.status?.conditions ?? []) {
      if (c.status === 'False' && c.type !== 'ScalingLimited')
        reasons.push(
          `HorizontalPodAutoscaler ${name}: ${c.type}=False (${c.reason ?? ''})${c.message ? `: ${c.message}` : ''}`,
        );
    }
  }

  const readyCondition = conditions.find((c) => c.type === 'Ready');
  if (!ready && readyCondition !== undefined)
    reasons.unshift(
      `Ready=${readyCondition.status} (${readyCondition.reason ?? ''})${readyCondition.message ? `: ${readyCondition.message}` : ''}`,
    );
  const verdict = ready
    ? `agentdeployment.breakwater.dev/${name} is Ready (${agent.status?.readySummary ?? '?'} replicas)`
    : `agentdeployment.breakwater.dev/${name} is not Ready`;
  return {
    agent: name,
    namespace,
    ready,
    verdict,
    reasons,
    conditions,
    children,
    events: eventsAbout(inputs.events, name, inputs.nowMs),
  };
}

function podState(pod: PodObject): { text: string; problem?: string } {
  const phase = pod.status?.phase ?? 'Unknown';
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  const waiting = statuses.find((s) => s.state?.waiting?.reason !== undefined)?.state?.waiting;
  const terminated = statuses.find((s) => s.state?.terminated !== undefined)?.state?.terminated;
  const ready = isPodReady(pod);
  const restartsText = restarts > 0 ? `, ${String(restarts)} restarts` : '';
  if (ready) return { text: `Running, ready${restartsText}` };
  const unscheduled = pod.status?.conditions?.find(
    (c) => c.type === 'PodScheduled' && c.status === 'False',
  );
  const cause =
    waiting !== undefined
      ? `waiting: ${waiting.reason ?? ''}${waiting.message ? `: ${waiting.message}` : ''}`
      : terminated !== undefined
        ? `terminated: ${terminated.reason ?? ''} (exit ${String(terminated.exitCode ?? '?')})`
        : unscheduled !== undefined
          ? `not scheduled: ${unscheduled.message ?? unscheduled.reason ?? ''}`
          : 'not ready: its readiness probe fails (see Unhealthy Events)';
  return {
    text: `${phase}, not ready${restartsText}`,
    problem: `${phase}, ${cause}${restartsText}`,
  };
}

/** Events about the agent and its children (named `<agent>` or `<agent>-…`), newest last. */
function eventsAbout(
  events: readonly EventObject[],
  agent: string,
  nowMs: number,
): Explanation['events'] {
  const time = (e: EventObject) =>
    Date.parse(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? '') || 0;
  return events
    .filter((e) => {
      const n = e.involvedObject?.name ?? '';
      return n === agent || n.startsWith(`${agent}-`);
    })
    .sort((a, b) => time(a) - time(b))
    .slice(-EVENTS)
    .map((e) => ({
      age: age(time(e), nowMs),
      type: e.type ?? '',
      reason: e.reason ?? '',
      object: `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
      message: `${e.message ?? ''}${(e.count ?? 1) > 1 ? ` (x${String(e.count)})` : ''}`,
    }));
}

export function explainText(x: Explanation): string {
  const lines = [`${x.verdict} (namespace ${x.namespace})`];
  if (x.reasons.length > 0)
    lines.push('', x.ready ? 'Worth knowing:' : 'Why:', ...x.reasons.map((r) => `  - ${r}`));
  const sections = [
    lines.join('\n') + '\n',
    'Conditions:\n' +
      (x.conditions.length === 0
        ? '  (none)\n'
        : renderTable(
            ['type', 'status', 'reason', 'message'],
            x.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
          )),
    'Children:\n' +
      renderTable(
        ['kind', 'name', 'state'],
        x.children.map((c) => [c.kind, c.name, c.state]),
      ),
    `Events (latest ${String(EVENTS)}):\n` +
      (x.events.length === 0
        ? '  (none)\n'
        : renderTable(
            ['age', 'type', 'reason', 'object', 'message'],
            x.events.map((e) => [e.age, e.type, e.reason, e.object, e.message]),
          )),
  ];
  return sections.join('\n');
}
