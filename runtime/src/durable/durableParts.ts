/**
 * A runtime process's durable-runs parts, made together: the journal (`DurableRuns`), the
 * bundled agent's runs it executes and leases (`OwnedRuns`) and their metrics. The replica's
 * name in leases and audit records is its pod's name with a suffix of its own, so that a
 * restarted process in the same pod is a different holder from the one that died.
 */
import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { POD_NAME_ENV } from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import type { Logger } from '../telemetry/logger.ts';
import { DurableMetrics } from './durableMetrics.ts';
import { DurableRuns } from './durableRuns.ts';
import { OwnedRuns, runLeaseMs } from './ownedRuns.ts';

export interface DurableParts {
  readonly durable: DurableRuns;
  readonly ownedRuns: OwnedRuns;
  readonly metrics: DurableMetrics;
}

export function durableParts(deps: {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly audit: AuditLog;
  readonly env: Readonly<Record<string, string | undefined>>;
}): DurableParts {
  const { clock, logger, audit, env } = deps;
  const metrics = new DurableMetrics(deps.registry);
  const durable = new DurableRuns({ clock, logger, metrics, audit, env });
  const ownedRuns = new OwnedRuns({
    clock,
    logger,
    metrics,
    audit,
    durable,
    replica: `${env[POD_NAME_ENV] ?? 'runtime'}/${randomUUID().slice(0, 8)}`,
    leaseMs: runLeaseMs(env),
  });
  return { durable, ownedRuns, metrics };
}
