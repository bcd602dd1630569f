/**
 * Prompt-cache metrics: each served call's input tokens by backend and kind (uncached, read
 * from the cache, written to it), and how calls relate to their cache-affinity pin. Counted
 * on tallies, so a call costs a few map lookups.
 */
import type { PinOutcome } from '../provider/cacheAffinity/pinRules.ts';
import type { Usage } from '../provider/sseUsage.ts';
import type { RuntimeMetrics } from './runtimeMetrics.ts';

export function inputTokenTelemetry(
  metrics: RuntimeMetrics,
): (backend: string, usage: Usage) => void {
  return (backend, usage) => {
    metrics.inputTokens.inc({ backend, kind: 'uncached' }, usage.input_tokens);
    const read = usage.cache_read_input_tokens ?? 0;
    const written = usage.cache_creation_input_tokens ?? 0;
    if (read > 0) metrics.inputTokens.inc({ backend, kind: 'cache_read' }, read);
    if (written > 0) metrics.inputTokens.inc({ backend, kind: 'cache_write' }, written);
  };
}

export function pinTelemetry(metrics: RuntimeMetrics): (outcome: PinOutcome) => void {
  return (result) => {
    metrics.cacheAffinity.inc({ result });
  };
}
