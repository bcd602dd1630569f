/**
 * `kubectl breakwater status [agent]`: each agent with its replicas, and for each replica its
 * breakers, the policy hash it runs and whether it applies an override — read from what the
 * runtime reports on its own pod, the same annotations the operator aggregates.
 */
import type { AgentDeployment, CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import { POLICY_HASH_ANNOTATION } from '../../../contract/src/policy/policyDocument.ts';
import {
  BREAKERS_ANNOTATION,
  decodeBreakerReport,
  type ReportedBreakerState,
} from '../../../contract/src/reporting/breakerReport.ts';
import {
  RUNTIME_ANNOTATION,
  decodeRuntimeReport,
} from '../../../contract/src/reporting/runtimeReport.ts';
import { agentsIn, isPodReady, podsOf, type PodObject } from '../cluster/agentObjects.ts';
import type { PluginKube } from '../cluster/pluginKube.ts';
import type { CommandResult } from '../output/printResult.ts';
import { renderTable } from '../output/table.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';

export interface OverrideView {
  readonly policy: string;
  readonly state: 'ForcedOpen' | 'ForcedClosed';
  readonly reason?: string | undefined;
  readonly until?: string | undefined;
  /** `3/3` once the operator reports the acknowledgement. */
  readonly applied?: string | undefined;
  /** Its `until` has passed: the breakers are back to their own state, whatever spec says. */
  readonly expired: boolean;
}

export interface ReplicaView {
  readonly pod: string;
  readonly phase: string;
  readonly ready: boolean;
  readonly policyHash: string | undefined;
  /** Whether it runs the policy the operator last resolved for the agent. */
  readonly policyCurrent: boolean;
  /** The forced state every one of its breakers reports, when they all do. */
  readonly override: string | undefined;
  readonly breakers: readonly {
    readonly name: string;
    readonly state: ReportedBreakerState;
    readonly since: string;
    readonly trips: number;
  }[];
}

export interface AgentView {
  readonly namespace: string;
  readonly name: string;
  readonly ready: string | undefined;
  readonly breaker: string | undefined;
  /** Each backend's breaker state, as the operator sums it up: `anthropic Open 3/3, …`. */
  readonly backends: string | undefined;
  /** Each MCP server, as the operator sums it up: `github reachable 3/3, 12 tools, …`. */
  readonly mcp: string | undefined;
  /** The last loop its CircuitBreakerPolicy records: `github__search ×5 at … (policy p)`. */
  readonly lastLoop: string | undefined;
  readonly policyHash: string | undefined;
  readonly override: OverrideView | undefined;
  readonly replicas: readonly ReplicaView[];
}

export interface StatusData {
  readonly agents: readonly AgentView[];
}

export async function statusCommand(
  kube: PluginKube,
  namespace: string | undefined,
  agent: string | undefined,
): Promise<CommandResult<StatusData>> {
  const agents = await agentsIn(kube, namespace, agent);
  const views = await Promise.all(
    agents.map(async (a) => agentView(a, await podsOf(kube, a), await policyOf(kube, a))),
  );
  return { data: { agents: views }, table: (data) => statusTable(data, namespace === undefined) };
}

async function policyOf(
  kube: PluginKube,
  agent: AgentDeployment,
): Promise<CircuitBreakerPolicy | undefined> {
  const name = agent.spec.circuitBreakerPolicyRef?.name;
  if (name === undefined) return undefined;
  return kube.get<CircuitBreakerPolicy>(Kinds.CircuitBreakerPolicy, agent.metadata.namespace, name);
}

/** Pure: one agent's view from its objects. */
export function agentView(
  agent: AgentDeployment,
  pods: readonly PodObject[],
  policy: CircuitBreakerPolicy | undefined,
  nowMs = Date.now(),
): AgentView {
  const desiredHash = agent.status?.policy?.hash;
  const override = overrideOf(policy, nowMs);
  return {
    namespace: agent.metadata.namespace ?? 'default',
    name: agent.metadata.name ?? '',
    ready: agent.status?.readySummary,
    breaker: agent.status?.breaker?.state,
    backends: agent.status?.backendSummary,
    mcp: agent.status?.mcpSummary,
    lastLoop: lastLoopText(policy),
    policyHash: desiredHash,
    override,
    replicas: pods.map((pod) =>
      replicaView(pod, desiredHash, override?.expired === true ? undefined : override?.state),
    ),
  };
}

/**
 * The policy's last loop, whichever of its agents ran into it (the agent is named when it is
 * another one: a policy is shared).
 */
function lastLoopText(policy: CircuitBreakerPolicy | undefined): string | undefined {
  const loop = policy?.status?.lastLoop;
  if (loop === undefined) return undefined;
  const shadow = loop.shadow === true ? ', reported only (Shadow)' : '';
  return `${loop.tool} ×${String(loop.count)} at ${loop.time} in ${loop.agent}${shadow} (CircuitBreakerPolicy ${policy?.metadata.name ?? ''})`;
}

function overrideOf(
  policy: CircuitBreakerPolicy | undefined,
  nowMs: number,
): OverrideView | undefined {
  const override = policy?.spec.override;
  if (override?.state !== 'ForcedOpen' && override?.state !== 'ForcedClosed') return undefined;
  const acknowledged = (policy?.status as { override?: { applied?: string } } | undefined)
    ?.override;
  return {
    policy: policy?.metadata.name ?? '',
    state: override.state,
    reason: override.reason,
    until: override.until,
    applied: acknowledged?.applied,
    expired: override.until !== undefined && Date.parse(override.until) <= nowMs,
  };
}

/**
 * The override a replica applies is what it says in its `breakwater.dev/runtime` report. A
 * runtime too old to write one applies it when its breakers all report the forced state, or,
 * with no breaker yet (no call since it started), when it runs the current policy, which
 * carries the override.
 */
function replicaView(
  pod: PodObject,
  desiredHash: string | undefined,
  override: OverrideView['state'] | undefined,
): ReplicaView {
  const annotations = pod.metadata?.annotations ?? {};
  const report = decodeBreakerReport(annotations[BREAKERS_ANNOTATION]);
  const breakers = Object.entries(report).map(([name, b]) => ({
    name,
    state: b.state,
    since: b.since,
    trips: b.trips,
  }));
  const states = new Set(breakers.map((b) => b.state));
  const [only] = states;
  const hash = annotations[POLICY_HASH_ANNOTATION];
  const policyCurrent = hash !== undefined && hash === desiredHash;
  const runtime = decodeRuntimeReport(annotations[RUNTIME_ANNOTATION]);
  return {
    pod: pod.metadata?.name ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ready: isPodReady(pod),
    policyHash: hash === '' ? undefined : hash,
    policyCurrent,
    override:
      runtime !== undefined
        ? runtime.override?.state
        : states.size === 1 && (only === 'ForcedOpen' || only === 'ForcedClosed')
          ? only
          : breakers.length === 0 && policyCurrent
            ? override
            : undefined,
    breakers,
  };
}

export function statusTable(data: StatusData, allNamespaces: boolean): string {
  if (data.agents.length === 0) return 'No AgentDeployments found.\n';
  const ns = (namespace: string) => (allNamespaces ? [namespace] : []);
  const nsHeader = allNamespaces ? ['namespace'] : [];
  const agents = renderTable(
    [...nsHeader, 'agent', 'ready', 'breaker', 'policy', 'override'],
    data.agents.map((a) => [
      ...ns(a.namespace),
      a.name,
      a.ready,
      a.breaker,
      a.policyHash,
      overrideText(a.override),
    ]),
  );
  // Lines per agent for what does not fit a table cell: backends, MCP servers, the last loop.
  const line = (a: AgentView, label: string, text: string | undefined): string[] =>
    text === undefined
      ? []
      : data.agents.length === 1
        ? [`${label}: ${text}\n`]
        : [`${label} of ${allNamespaces ? `${a.namespace}/` : ''}${a.name}: ${text}\n`];
  const lines = data.agents.flatMap((a) => [
    ...line(a, 'backends', a.backends),
    ...line(a, 'mcp', a.mcp),
    ...line(a, 'last loop', a.lastLoop),
  ]);
  const summary = `${agents}${lines.join('')}`;
  const replicas = data.agents.flatMap((a) =>
    a.replicas.map((r) => [
      ...ns(a.namespace),
      r.pod,
      a.name,
      r.ready ? 'True' : `False (${r.phase})`,
      r.policyHash === undefined
        ? undefined
        : r.policyCurrent
          ? r.policyHash
          : `${r.policyHash} (old)`,
      r.override,
      r.breakers.map((b) => `${b.name}=${b.state}`).join(' '),
    ]),
  );
  if (replicas.length === 0) return `${summary}\nNo agent pods found.\n`;
  return `${summary}\n${renderTable([...nsHeader, 'pod', 'agent', 'ready', 'policy', 'override', 'breakers'], replicas)}`;
}

function overrideText(o: OverrideView | undefined): string | undefined {
  if (o === undefined) return undefined;
  const reasonOf = o.reason === undefined ? '' : ` (${o.reason})`;
  if (o.expired) return `${o.state} expired at ${o.until ?? ''}${reasonOf}`;
  const applied = o.applied === undefined ? '' : ` ${o.applied}`;
  const until = o.until === undefined ? '' : ` until ${o.until}`;
  const reason = o.reason === undefined ? '' : ` (${o.reason})`;
  return `${o.state}${applied}${until}${reason}`;
}
