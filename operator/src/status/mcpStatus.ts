/**
 * Each MCP server over the agent's running replicas, from what each replica reports: the
 * `breakwater.dev/mcp` annotation (reachable, tools, last error) and, for its tools' breakers
 * (`tool:<server>__<tool>`), the `breakwater.dev/breakers` one. A server down shows here and
 * in McpServersReachable while the agent stays Ready: only that server's tools fail.
 */
import type { AgentDeployment, McpServerStatus } from '../../../contract/src/api/resources.ts';
import {
  TOOL_BREAKER_PREFIX,
  type BreakerReport,
} from '../../../contract/src/reporting/breakerReport.ts';
import {
  MCP_ANNOTATION,
  decodeMcpReport,
  type McpReport,
} from '../../../contract/src/reporting/mcpReport.ts';
import type { ConditionUpdate } from './conditions.ts';
import type { PodView } from './views.ts';

export const MCP_CONDITION = 'McpServersReachable';
/** `lastError`'s maxLength in crds/schemas: a longer error would make the write fail. */
export const MAX_LAST_ERROR = 512;

/** What one running replica reports; either is undefined until its runtime writes it. */
export interface McpReplica {
  readonly mcp: McpReport | undefined;
  readonly breakers: BreakerReport | undefined;
}

/** The pod's MCP report, or undefined when its runtime has not written one yet. */
export function podMcpReport(pod: PodView): McpReport | undefined {
  const raw = pod.metadata?.annotations?.[MCP_ANNOTATION];
  return raw === undefined ? undefined : decodeMcpReport(raw);
}

/** One entry per `spec.mcpServers[]`, in spec order; undefined without any. */
export function mcpServerStatuses(
  agent: Readonly<AgentDeployment>,
  replicas: readonly McpReplica[],
): McpServerStatus[] | undefined {
  const servers = agent.spec.mcpServers ?? [];
  if (servers.length === 0) return undefined;
  return servers.map(({ name }) => {
    let reachable = 0;
    let tools = 0;
    let lastError: { readonly error: string; readonly since: number } | undefined;
    // A tool counts once however many replicas have its breaker open.
    const open = new Set<string>();
    const prefix = `${TOOL_BREAKER_PREFIX}${name}__`;
    for (const replica of replicas) {
      const report = replica.mcp?.servers[name];
      if (report?.reachable === true) reachable++;
      tools = Math.max(tools, report?.tools ?? 0);
      if (report?.reachable === false && report.error !== undefined) {
        const since = Date.parse(report.since);
        if (lastError === undefined || since > lastError.since)
          lastError = { error: report.error, since };
      }
      for (const [breaker, entry] of Object.entries(replica.breakers ?? {}))
        if (breaker.startsWith(prefix) && (entry.state === 'Open' || entry.state === 'ForcedOpen'))
          open.add(breaker);
    }
    return {
      name,
      reachable,
      replicas: replicas.length,
      tools,
      openToolBreakers: open.size,
      ...(lastError === undefined ? {} : { lastError: lastError.error.slice(0, MAX_LAST_ERROR) }),
    };
  });
}

/** `github reachable 3/3, 12 tools, 1 tool breaker open; search reachable 0/3, 0 tools`. */
export function mcpSummary(servers: readonly McpServerStatus[]): string {
  return servers.map(mcpServerLine).join('; ');
}

export function mcpServerLine(s: McpServerStatus): string {
  const open =
    s.openToolBreakers === 0
      ? ''
      : `, ${String(s.openToolBreakers)} tool breaker${s.openToolBreakers === 1 ? '' : 's'} open`;
  return `${s.name} reachable ${String(s.reachable)}/${String(s.replicas)}, ${String(s.tools)} tools${open}`;
}

/**
 * McpServersReachable, with spec.mcpServers only. False names each server some replica
 * reports unreachable (a replica still starting is not counted against it); Unknown while no
 * running replica has reported.
 */
export function mcpCondition(
  servers: readonly McpServerStatus[],
  replicas: readonly McpReplica[],
): ConditionUpdate {
  const reported = replicas.filter((r) => r.mcp !== undefined);
  if (reported.length === 0)
    return {
      type: MCP_CONDITION,
      status: 'Unknown',
      reason: 'NotReported',
      message: 'no running replica has reported its MCP servers yet',
    };
  const down = servers.filter(({ name }) =>
    reported.some((r) => r.mcp?.servers[name]?.reachable === false),
  );
  if (down.length === 0)
    return {
      type: MCP_CONDITION,
      status: 'True',
      reason: 'Reachable',
      message: `${String(servers.length)} servers reachable from every replica that reported`,
    };
  return {
    type: MCP_CONDITION,
    status: 'False',
    reason: 'Unreachable',
    message: down
      .map(
        (s) =>
          `${s.name} reachable ${String(s.reachable)}/${String(s.replicas)}` +
          (s.lastError === undefined ? '' : `: ${s.lastError}`),
      )
      .join('; '),
  };
}
