import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SpanKind } from '@opentelemetry/api';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import { startRequestSpan, startTelemetry, type Telemetry } from '../telemetry/tracing.ts';
import { attemptsOnSpan } from './messagesAnswer.ts';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const UNSAMPLED_CALLER = `00-${CALLER_TRACE}-00f067aa0ba902b7-00`;

describe('attemptsOnSpan with the SDK started', () => {
  let telemetry: Telemetry;
  beforeAll(async () => {
    // The default sampler (parentbased_always_on); spans made and dropped at their end.
    telemetry = await startTelemetry(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'none',
      },
      () => undefined,
    );
  });
  afterAll(async () => {
    await telemetry.shutdown();
  });

  it('wraps the attempts of a recorded call, not those of one the sampler left out', () => {
    // The wrapper reads the policy only when an attempt runs.
    const active = {} as ActivePolicy;
    const recorded = startRequestSpan('chat m', {}, {}, SpanKind.CLIENT);
    const unsampled = startRequestSpan(
      'chat m',
      { traceparent: UNSAMPLED_CALLER },
      {},
      SpanKind.CLIENT,
    );
    expect(recorded.span.isRecording()).toBe(true);
    expect(attemptsOnSpan(recorded, active, 16)).toBeInstanceOf(Function);
    expect(unsampled.span.isRecording()).toBe(false);
    expect(attemptsOnSpan(unsampled, active, 16)).toBeUndefined();
    // The provider still hears of the caller's trace, unsampled, under this call's span id.
    expect(unsampled.outgoing.traceparent).toMatch(
      new RegExp(`^00-${CALLER_TRACE}-(?!00f067aa0ba902b7)[0-9a-f]{16}-00$`),
    );
    recorded.span.end();
    unsampled.span.end();
  });
});
