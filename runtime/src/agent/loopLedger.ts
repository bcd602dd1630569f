/**
 * The loops this replica found: each is counted (`agent_loops_detected_total{tool, mode}`),
 * logged, audited and, the newest, reported on the pod (`breakwater.dev/mcp` lastLoop), from
 * where the operator shows it in the CircuitBreakerPolicy's status.
 */
import type { LoopReport } from '../../../contract/src/reporting/mcpReport.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { rfc3339Seconds } from '../../../platform/src/time/rfc3339.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import type { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { LoopFinding } from './loopDetector.ts';

export interface LoopLedgerDeps {
  readonly clock: Clock;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly audit: AuditLog;
}

export class LoopLedger {
  readonly #deps: LoopLedgerDeps;
  #last: LoopReport | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(deps: LoopLedgerDeps) {
    this.#deps = deps;
  }

  get last(): LoopReport | undefined {
    return this.#last;
  }

  found(finding: LoopFinding, shadow: boolean, where: { requestId: string; route: string }): void {
    const { clock, metrics, logger, audit } = this.#deps;
    const mode = shadow ? 'Shadow' : 'Enforce';
    metrics.loopsDetected.inc({ tool: finding.tool, mode });
    logger.warn(
      { reqId: where.requestId, tool: finding.tool, count: finding.count, mode },
      shadow ? 'agent loop detected (Shadow: the run goes on)' : 'agent loop detected: run stopped',
    );
    audit.record({
      event: 'loop_detected',
      requestId: where.requestId,
      route: where.route,
      tool: finding.tool,
      count: finding.count,
      mode,
    });
    this.#last = {
      tool: finding.tool,
      count: finding.count,
      at: rfc3339Seconds(clock.now()),
      shadow,
    };
    for (const listener of this.#listeners) listener();
  }

  onChange(listener: () => void): void {
    this.#listeners.add(listener);
  }
}
