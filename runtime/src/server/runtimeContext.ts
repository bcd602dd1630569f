/**
 * Everything a request handler needs, passed in rather than reached for: the policy in force
 * with its guard, the provider router, and the cross-cutting collaborators.
 */
import type { LoopLedger } from '../agent/loopLedger.ts';
import type { DurableMetrics } from '../durable/durableMetrics.ts';
import type { DurableRuns } from '../durable/durableRuns.ts';
import type { OwnedRuns } from '../durable/ownedRuns.ts';
import type { McpEndpoint } from '../mcp/mcpEndpoint.ts';
import type { McpTools } from '../mcp/mcpTools.ts';
import type { ClientKeys } from '../access/clientKeys.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import type { ResponseCache } from '../cache/responseCache.ts';
import type { PolicyStore } from '../policy/policyStore.ts';
import type { ModelRouter } from '../provider/modelRouter.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import type { CallStats } from '../stats/callStats.ts';
import type { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { Lifecycle } from './lifecycle.ts';

export interface RuntimeContext {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: RuntimeMetrics;
  readonly store: PolicyStore;
  active(): ActivePolicy | undefined;
  readonly router: ModelRouter;
  readonly clientKeys: ClientKeys;
  readonly lifecycle: Lifecycle;
  readonly cache: ResponseCache;
  readonly stats: CallStats;
  readonly audit: AuditLog;
  /** The MCP servers of the policy in force. */
  readonly mcp: McpTools;
  /** The loops this replica found. */
  readonly loops: LoopLedger;
  /** `/mcp/<name>`: the declared servers, guarded, for agents the runtime does not run. */
  readonly mcpEndpoint: McpEndpoint;
  /** Durable runs: their journals (AgentDeployment `durability`). */
  readonly durable: DurableRuns;
  readonly durableMetrics: DurableMetrics;
  /** The bundled agent's runs: executed, leased, taken over (`/v1/agent/runs`). */
  readonly ownedRuns: OwnedRuns;
  /** Component checks for `/health`. */
  health(): Record<string, { ok: boolean; detail?: string }>;
}
