/**
 * What each provider attempt leaves behind: its count and latency by model, backend and
 * outcome, the GenAI conventions' metrics of a model call, the provider's headroom it
 * reported, and a debug line when it failed.
 */
import type { AttemptObserver } from '../provider/providerAttempt.ts';
import type { ProviderHeadroom } from '../provider/providerHeadroom.ts';
import type { Logger } from './logger.ts';
import type { RuntimeMetrics } from './runtimeMetrics.ts';

export function attemptTelemetry(
  metrics: RuntimeMetrics,
  headroom: ProviderHeadroom,
  logger: Logger,
): AttemptObserver {
  return (event) => {
    const labels = { model: event.model, backend: event.backend, outcome: event.outcome };
    metrics.llmAttempts.inc(labels);
    metrics.llmLatency.observe(labels, event.durationMs / 1000);
    headroom.observeAttempt(event);
    if (event.operation !== undefined)
      metrics.genAi.record({
        requestModel: event.model,
        peer: event.peer,
        durationMs: event.durationMs,
        errorType: event.outcome === 'Success' ? undefined : event.outcome,
        response: event.response,
        usage: event.usage,
        firstEventMs: event.firstEventMs,
      });
    if (event.outcome !== 'Success')
      logger.debug({ ...labels, attempt: event.attempt }, 'provider attempt failed');
  };
}
