/**
 * `kubectl breakwater top`: per agent, its replicas' `/debug/stats` windows merged
 * (stats/replicaStats.ts), busiest agent first; then what each agent has spent of its budgets
 * and, for `per: ClientKey` budgets, the keys that spent most (fingerprints), from the
 * agent's status (`status.spend`, kept by the operator across pod restarts); then each team
 * budget (`per: Policy`) and every agent's part of it, from its RateLimitPolicy's status
 * (teamTop.ts). Each pod is read through the API server's pod
 * proxy on the runtime's metrics port — which needs `get` on `pods/proxy` — so no port-forward
 * and no route into the cluster network are needed. A replica that cannot be read is named
 * with the reason, and the others still count.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { BudgetSpendStatus } from '../../../contract/src/api/v1alpha1/common.ts';
import { isKubeApiError } from '../../../platform/src/kube/kubeClient.ts';
import { METRICS_PORT_NAME } from '../../../contract/src/pod/runtimePorts.ts';
import {
  DEBUG_OFF,
  DEBUG_STATS_PATH,
  type DebugStatsDocument,
} from '../../../contract/src/reporting/debugStats.ts';
import { agentsIn, podsOf, type PodObject } from '../cluster/agentObjects.ts';
import type { PluginKube } from '../cluster/pluginKube.ts';
import type { CommandResult } from '../output/printResult.ts';
import { millis, percent, renderTable } from '../output/table.ts';
import { mergeReplicaStats, type MergedStats } from '../stats/replicaStats.ts';
import { mergeToolStats, type ToolStats } from '../stats/toolStats.ts';
import { teamTables, teamsIn, type TeamTop } from './teamTop.ts';

export interface UnreadReplica {
  readonly pod: string;
  readonly reason: string;
}

export interface AgentTop extends MergedStats {
  readonly namespace: string;
  readonly name: string;
  /** Running pods asked. */
  readonly running: number;
  readonly unread: readonly UnreadReplica[];
  /** Per tool (MCP tools as `<server>__<tool>`), most calls first. */
  readonly tools: readonly ToolStats[];
  /** What it has spent of each budget this period (its status); empty without budgets. */
  readonly budgets?: readonly BudgetSpendStatus[];
}

export interface TopData {
  readonly agents: readonly AgentTop[];
  /** Each team budget (per Policy) of the policies, from their status (teamTop.ts). */
  readonly teams?: readonly TeamTop[];
  /** Why the policies, and so the teams, could not be read. */
  readonly teamsUnread?: string;
}

/** A replica that has not answered by then is reported as such; the others still count. */
export const POD_READ_TIMEOUT_MS = 10_000;

export const DEBUG_OFF_HINT =
  'its /debug endpoints are off (spec.monitoring.debugEndpoints: false); set it to true to read its stats';

export async function topCommand(
  kube: PluginKube,
  namespace: string | undefined,
): Promise<CommandResult<TopData>> {
  const agents = await agentsIn(kube, namespace);
  const [tops, teams] = await Promise.all([
    Promise.all(agents.map((agent) => agentTop(kube, agent))),
    teamsIn(kube, namespace),
  ]);
  return {
    data: {
      agents: rankAgents(tops),
      teams: teams.teams,
      ...(teams.unread === undefined ? {} : { teamsUnread: teams.unread }),
    },
    table: (data) => topTable(data, namespace === undefined),
  };
}

/** Busiest first; ties by namespace and name, so the order is stable. */
export function rankAgents(agents: readonly AgentTop[]): AgentTop[] {
  return [...agents].sort(
    (a, b) =>
      b.throughputPerSecond - a.throughputPerSecond ||
      `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
}

async function agentTop(kube: PluginKube, agent: AgentDeployment): Promise<AgentTop> {
  const namespace = agent.metadata.namespace ?? 'default';
  const running = (await podsOf(kube, agent)).filter((p) => p.status?.phase === 'Running');
  const documents: DebugStatsDocument[] = [];
  const unread: UnreadReplica[] = [];
  if (agent.spec.monitoring?.debugEndpoints === false) {
    for (const pod of running)
      unread.push({ pod: pod.metadata?.name ?? '', reason: DEBUG_OFF_HINT });
  } else {
    await Promise.all(
      running.map(async (pod) => {
        const read = await readStats(kube, pod);
        if ('reason' in read) unread.push(read);
        else documents.push(read.document);
      }),
    );
  }
  unread.sort((a, b) => a.pod.localeCompare(b.pod));
  return {
    namespace,
    name: agent.metadata.name ?? '',
    running: running.length,
    unread,
    ...mergeReplicaStats(documents),
    tools: mergeToolStats(documents),
    budgets: agent.status?.spend?.budgets ?? [],
  };
}

/** The API server's pod proxy path to a pod's `/debug/stats` (or `document`) on its metrics port. */
export function statsProxyPath(
  pod: PodObject,
  document: string = DEBUG_STATS_PATH,
): string | UnreadReplica {
  const name = pod.metadata?.name ?? '';
  // The runtime is a container, or an init container (a native sidecar) beside the team's agent.
  const port = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]
    .flatMap((c) => c.ports ?? [])
    .find((p) => p.name === METRICS_PORT_NAME)?.containerPort;
  if (port === undefined)
    return {
      pod: name,
      reason: `no container port named ${METRICS_PORT_NAME} to read ${document} from`,
    };
  const namespace = encodeURIComponent(pod.metadata?.namespace ?? 'default');
  return `/api/v1/namespaces/${namespace}/pods/${encodeURIComponent(name)}:${String(port)}/proxy${document}`;
}

async function readStats(
  kube: PluginKube,
  pod: PodObject,
): Promise<{ document: DebugStatsDocument } | UnreadReplica> {
  const name = pod.metadata?.name ?? '';
  const path = statsProxyPath(pod);
  if (typeof path !== 'string') return path;
  try {
    const text = await kube.getText(path, AbortSignal.timeout(POD_READ_TIMEOUT_MS));
    const document = JSON.parse(text) as DebugStatsDocument;
    if (typeof document.models !== 'object')
      return { pod: name, reason: `${DEBUG_STATS_PATH} answered without "models"` };
    return { document };
  } catch (err) {
    return { pod: name, reason: unreadReason(err, pod) };
  }
}

/** Why a pod's stats could not be read, with what to do about it. */
export function unreadReason(err: unknown, pod: PodObject): string {
  const namespace = pod.metadata?.namespace ?? 'default';
  if (isTimeout(err))
    return `no answer through the pod proxy within ${String(POD_READ_TIMEOUT_MS / 1000)}s`;
  if (!isKubeApiError(err)) return err instanceof Error ? err.message : String(err);
  if (err.status === 404 && err.message.includes(DEBUG_OFF)) return DEBUG_OFF_HINT;
  if (err.status === 403)
    return `forbidden: reading a pod's /debug/stats needs get on pods/proxy in namespace ${namespace}`;
  if (err.status === 400 && err.message.includes('address not allowed'))
    return `the API server will not proxy to this pod's IP ${pod.status?.podIP ?? '(none)'} (loopback or link-local)`;
  return `pod proxy answered ${String(err.status)}: ${err.message}`;
}

export function topTable(data: TopData, allNamespaces: boolean): string {
  if (data.agents.length === 0) return 'No AgentDeployments found.\n';
  const nsHeader = allNamespaces ? ['namespace'] : [];
  const table = renderTable(
    [
      ...nsHeader,
      'agent',
      'replicas',
      'req/s',
      'success',
      'p50',
      'p95',
      'p99',
      'fallback',
      'top errors',
    ],
    data.agents.map((a) => [
      ...(allNamespaces ? [a.namespace] : []),
      a.name,
      `${String(a.replicas)}/${String(a.running)}`,
      a.count === 0 ? '0' : a.throughputPerSecond.toFixed(2),
      percent(a.successRate),
      millis(a.latencyMs.p50),
      millis(a.latencyMs.p95),
      millis(a.latencyMs.p99),
      percent(a.fallbackShare),
      a.topErrors.map((e) => `${e.type}=${String(e.count)}`).join(' '),
    ]),
  );
  const window = data.agents.find((a) => a.windowSeconds !== null)?.windowSeconds;
  const notes = data.agents.flatMap((a) => [
    ...a.unread.map((u) => `${a.name}: pod ${u.pod} not read: ${u.reason}`),
    ...(a.withoutHistogram > 0
      ? [
          `${a.name}: ${String(a.withoutHistogram)} replica(s) sent no latency histogram (an older runtime): left out of the percentiles`,
        ]
      : []),
  ]);
  const footer =
    window === undefined || window === null
      ? ''
      : `Over the last ${millis(window * 1000)} of each replica.\n`;
  return (
    table +
    toolTable(data, allNamespaces) +
    spendTable(data, allNamespaces) +
    keyTable(data, allNamespaces) +
    teamTables(data.teams ?? [], allNamespaces, amount) +
    footer +
    [...notes, ...(data.teamsUnread === undefined ? [] : [data.teamsUnread])]
      .map((n) => `${n}\n`)
      .join('')
  );
}

/** `$1.25` or `1200 tok`: a budget's dollars when it limits dollars, else its tokens. */
function amount(a: { usd?: string; tokens?: number } | undefined, dollars: boolean): string {
  if (a === undefined) return '-';
  return dollars ? `$${roundUsd(a.usd ?? '0')}` : `${String(a.tokens ?? 0)} tok`;
}

/** Dollars to the cent, or to six places below a cent, never rounded down to nothing. */
function roundUsd(usd: string): string {
  const value = Number(usd);
  if (value === 0) return '0';
  return value >= 0.01 ? value.toFixed(2) : value.toPrecision(2);
}

/** A row per budget of each agent: spent, limit, percent, reset and the hour's rate. */
function spendTable(data: TopData, allNamespaces: boolean): string {
  const rows = data.agents.flatMap((a) =>
    (a.budgets ?? []).map((b) => {
      const dollars = b.limit?.usd !== undefined;
      const rate = dollars ? b.projection?.usdPerHour : b.projection?.tokensPerHour;
      return [
        ...(allNamespaces ? [a.namespace] : []),
        a.name,
        b.name,
        b.per ?? 'Agent',
        // Per ClientKey the limit is each key's: the spend beside it is one key's too.
        amount(b.per === 'ClientKey' ? (b.byOneKey ?? b.spent) : b.spent, dollars),
        amount(b.limit, dollars),
        // Per Policy the agent's row is its part of the team's: the team's percent is below.
        b.per === 'Policy' ? '-' : `${String(b.percent ?? 0)}%`,
        b.resetsAt ?? '-',
        rate === undefined
          ? '-'
          : dollars
            ? `$${roundUsd(String(rate))}/h`
            : `${String(rate)} tok/h`,
        b.projection?.exhaustsAt ?? '-',
      ];
    }),
  );
  if (rows.length === 0) return '';
  const nsHeader = allNamespaces ? ['namespace'] : [];
  return `\n${renderTable(
    [
      ...nsHeader,
      'agent',
      'budget',
      'per',
      'spent',
      'limit',
      '%',
      'resets',
      'last hour',
      'exhausts',
    ],
    rows,
  )}${
    data.agents.some((a) => (a.budgets ?? []).some((b) => b.per === 'ClientKey'))
      ? "Per ClientKey, SPENT and LIMIT are one key's: the most any key has spent, against each key's limit.\n"
      : ''
  }${
    data.agents.some((a) => (a.budgets ?? []).some((b) => b.per === 'Policy'))
      ? "Per Policy, SPENT is the agent's part of its team's budget; the team's is below.\n"
      : ''
  }`;
}

/** A row per top key of each `per: ClientKey` budget, by fingerprint. */
function keyTable(data: TopData, allNamespaces: boolean): string {
  const rows = data.agents.flatMap((a) =>
    (a.budgets ?? []).flatMap((b) =>
      (b.topKeys ?? []).map((k) => [
        ...(allNamespaces ? [a.namespace] : []),
        a.name,
        b.name,
        k.key,
        amount(k, b.limit?.usd !== undefined),
      ]),
    ),
  );
  if (rows.length === 0) return '';
  const nsHeader = allNamespaces ? ['namespace'] : [];
  return `\n${renderTable([...nsHeader, 'agent', 'budget', 'client key', 'spent'], rows)}`;
}

/** A row per tool an agent called in the window, under the agents; nothing when none did. */
function toolTable(data: TopData, allNamespaces: boolean): string {
  const rows = data.agents.flatMap((a) =>
    a.tools.map((t) => [
      ...(allNamespaces ? [a.namespace] : []),
      a.name,
      t.tool,
      String(t.count),
      String(t.errors),
      percent(t.successRate),
      millis(t.p95Ms),
      t.topErrors.map((e) => `${e.type}=${String(e.count)}`).join(' '),
    ]),
  );
  if (rows.length === 0) return '';
  const nsHeader = allNamespaces ? ['namespace'] : [];
  return `\n${renderTable([...nsHeader, 'agent', 'tool', 'calls', 'errors', 'success', 'p95', 'top errors'], rows)}`;
}

/** The read's own deadline, as node:http reports it (an AbortError caused by it) or as is. */
function isTimeout(err: unknown): boolean {
  const name = (value: unknown): unknown =>
    typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined;
  // A DOMException (the signal's reason) is not an Error instance: read names only.
  return (
    name(err) === 'TimeoutError' ||
    (name(err) === 'AbortError' && name((err as { cause?: unknown }).cause) === 'TimeoutError')
  );
}
