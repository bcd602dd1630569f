/**
 * `/mcp/<name>` wired to the runtime's parts: the same bookkeeping as the bundled agent's tool
 * calls (agentTools.ts `settleToolCall`: metrics by server and tool, call statistics, the
 * prompt-injection screen) and the same loop ledger.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import { settleToolCall } from '../agent/agentTools.ts';
import type { LoopLedger } from '../agent/loopLedger.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import type { CallStats } from '../stats/callStats.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import type { DurableMetrics } from '../durable/durableMetrics.ts';
import type { DurableRuns } from '../durable/durableRuns.ts';
import { DurableTools } from '../durable/durableTools.ts';
import { McpEndpoint, type PolicyInForce } from './mcpEndpoint.ts';
import type { McpTools } from './mcpTools.ts';

const ROUTE = '/mcp';

export function mcpEndpoint(parts: {
  readonly mcp: McpTools;
  readonly loops: LoopLedger;
  readonly active: () => PolicyInForce | undefined;
  readonly metrics: RuntimeMetrics;
  readonly stats: CallStats;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly durable: DurableRuns;
  readonly durableMetrics: DurableMetrics;
}): McpEndpoint {
  const { metrics, stats, audit, logger, clock, loops } = parts;
  return new McpEndpoint({
    mcp: parts.mcp,
    active: parts.active,
    now: () => clock.now(),
    durable: new DurableTools(parts.durable, parts.durableMetrics),
    record: (call) => {
      const doc = parts.active()?.doc;
      if (doc === undefined) return call.outcome.text;
      return settleToolCall(
        {
          metrics,
          stats,
          onInjection: (kind, tool, blocked) => {
            const action = blocked ? 'blocked' : 'flagged';
            metrics.securityIncidents.inc({ kind, action });
            // An /mcp call has no request id of its own: its session names it, as for loops.
            const requestId = call.session ?? ROUTE;
            audit.record({ event: 'security_incident', requestId, kind, action, tool });
            logger.warn(
              { kind, action, tool, requestId },
              'suspected prompt injection in a tool result',
            );
          },
        },
        doc,
        call,
      );
    },
    loopFound: (tool, count, shadow, session) => {
      loops.found({ tool, count }, shadow, { requestId: session, route: ROUTE });
    },
  });
}
