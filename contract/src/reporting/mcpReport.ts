/**
 * The `breakwater.dev/mcp` pod annotation: each MCP server as this replica sees it — reachable
 * or not (and why), how many of its tools the agent may call — and the last loop this replica
 * stopped (or, in Shadow, reported). A sibling of the breaker annotation, which already holds
 * each tool's breaker (`tool:<server>__<tool>`); optional: a pod without it reports nothing.
 *
 *   {"servers":{"github":{"reachable":true,"tools":12,"since":"…"}},
 *    "lastLoop":{"tool":"github__search","count":5,"at":"…","shadow":false}}
 */
import { isReportObject, readReportObject } from './reportJson.ts';

export const MCP_ANNOTATION = 'breakwater.dev/mcp';

export interface McpServerReport {
  readonly reachable: boolean;
  /** Tools listed and allowed; 0 while unreachable. */
  readonly tools: number;
  /** Why it is unreachable (the last error), when it is. */
  readonly error?: string;
  /** Since when it has been as it is (RFC 3339). */
  readonly since: string;
}

export interface LoopReport {
  /** The tool, or the cycle (`a → b`), that repeated. */
  readonly tool: string;
  readonly count: number;
  /** When (RFC 3339). */
  readonly at: string;
  /** Reported only: the policy's mode is Shadow. */
  readonly shadow: boolean;
}

export interface McpReport {
  readonly servers: Readonly<Record<string, McpServerReport>>;
  readonly lastLoop?: LoopReport;
}

export function encodeMcpReport(report: McpReport): string {
  return JSON.stringify(report);
}

/** Reads an annotation value; anything malformed is left out rather than trusted. */
export function decodeMcpReport(value: string | undefined): McpReport {
  const servers: Record<string, McpServerReport> = {};
  const raw = readReportObject(value);
  if (raw === undefined) return { servers };
  if (isReportObject(raw.servers)) {
    for (const [name, e] of Object.entries(raw.servers)) {
      if (!isReportObject(e)) continue;
      if (typeof e.reachable !== 'boolean' || typeof e.tools !== 'number') continue;
      if (typeof e.since !== 'string' || Number.isNaN(Date.parse(e.since))) continue;
      servers[name] = {
        reachable: e.reachable,
        tools: e.tools,
        since: e.since,
        ...(typeof e.error === 'string' ? { error: e.error } : {}),
      };
    }
  }
  const loop = raw.lastLoop;
  const lastLoop =
    isReportObject(loop) &&
    typeof loop.tool === 'string' &&
    typeof loop.count === 'number' &&
    typeof loop.at === 'string' &&
    !Number.isNaN(Date.parse(loop.at))
      ? { tool: loop.tool, count: loop.count, at: loop.at, shadow: loop.shadow === true }
      : undefined;
  return lastLoop === undefined ? { servers } : { servers, lastLoop };
}
