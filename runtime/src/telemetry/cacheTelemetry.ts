/**
 * Token and prompt-cache metrics: each served call's tokens per call, its input tokens by
 * backend and kind (uncached, read from the cache, written to it), and how calls relate to
 * their cache-affinity pin. Counted on tallies, so a call costs a few map lookups.
 */
import type { PinOutcome } from '../provider/cacheAffinity/pinRules.ts';
import type { RoutedResponse } from '../provider/providerAttempt.ts';
import type { RuntimeMetrics } from './runtimeMetrics.ts';

/**
 * A served model call's tokens: per call (`agent_llm_tokens`, by the model that served it)
 * and its input by backend and kind. Every call the router serves passes here, the agent
 * loop's turns as well as `/v1/messages`.
 */
export function servedTokenTelemetry(
  metrics: RuntimeMetrics,
): (served: Pick<RoutedResponse, 'model' | 'backend' | 'usage'>) => void {
  return ({ model, backend, usage }) => {
    metrics.llmTokens.observe({ model, direction: 'input' }, usage.input_tokens);
    metrics.llmTokens.observe({ model, direction: 'output' }, usage.output_tokens);
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
