/**
 * Tools that share a bulkhead and breaker settings: one MCP server's. Each server's tools take
 * slots from the server's own bulkhead (guardOptions.ts: its limit, waiting for a slot within
 * the call's timeout), so a slow server fills its own slots and not the other servers' or the HTTP
 * tools'; and each tool's breaker follows the server's circuitBreakerPolicyRef when it has one,
 * the agent's policy otherwise.
 */
import type {
  BreakerSettings,
  McpServerSettings,
  PolicyDocument,
} from '../../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { Bulkhead } from '../bulkhead.ts';
import type { GuardMetrics } from '../metrics.ts';
import type { BreakerTarget } from './breakerRetirement.ts';
import { mcpServerConcurrency } from './guardOptions.ts';

/** A server's tools, as the guard needs to know them: the document's server settings. */
export type ToolGroup = McpServerSettings;

/**
 * The breaker settings of `target`: its MCP server's policy, else the agent's. A ForcedOpen
 * override stops the agent's own model, not its fallbacks: their breakers decide by themselves,
 * so the fallbacks still serve, as the API promises. (ForcedClosed lets every call through.)
 */
export function breakerSettingsOf(doc: PolicyDocument, target: BreakerTarget): BreakerSettings {
  if (target.kind === 'tool' && target.server !== undefined) {
    const own = doc.mcpServers?.find((m) => m.name === target.server)?.circuitBreaker;
    if (own !== undefined) return own;
  }
  const settings = doc.circuitBreaker;
  if (
    target.kind === 'model' &&
    settings.override.state === 'ForcedOpen' &&
    target.model !== doc.model.name &&
    doc.model.fallbacks.includes(target.model)
  )
    return { ...settings, override: { state: 'Auto' } };
  return settings;
}

export class ToolGroups {
  readonly #agent: string;
  readonly #clock: Clock;
  readonly #metrics: GuardMetrics | undefined;
  readonly #bulkheads = new Map<string, { bulkhead: Bulkhead; unbind: () => void }>();

  constructor(agent: string, clock: Clock, metrics: GuardMetrics | undefined) {
    this.#agent = agent;
    this.#clock = clock;
    this.#metrics = metrics;
  }

  /** The group's bulkhead, made on first use and kept at the group's current limit. */
  bulkhead(group: ToolGroup, timeoutMs: number): Bulkhead {
    const options = mcpServerConcurrency(group, timeoutMs);
    const kept = this.#bulkheads.get(group.name);
    if (kept !== undefined) {
      kept.bulkhead.reconfigure(options);
      return kept.bulkhead;
    }
    const bulkhead = new Bulkhead({
      name: `${this.#agent}/mcp/${group.name}`,
      clock: this.#clock,
      options,
    });
    this.#bulkheads.set(group.name, {
      bulkhead,
      unbind: this.#metrics?.bindBulkhead(bulkhead) ?? (() => undefined),
    });
    return bulkhead;
  }

  /** Forgets the bulkheads of servers the policy no longer declares. */
  retain(doc: PolicyDocument): void {
    const declared = new Set((doc.mcpServers ?? []).map((m) => m.name));
    for (const [name, kept] of this.#bulkheads) {
      if (declared.has(name)) continue;
      kept.unbind();
      this.#bulkheads.delete(name);
    }
  }

  /** Each server's bulkhead (debug views). */
  get bulkheads(): readonly Bulkhead[] {
    return [...this.#bulkheads.values()].map((k) => k.bulkhead);
  }
}
