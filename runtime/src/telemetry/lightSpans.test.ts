import { describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { hrTimeDuration, hrTimeToMilliseconds } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import { attributePairs, LightTracer, PooledIds } from './lightSpans.ts';
import { exportRequestJson } from './otlpJsonSpans.ts';
import { exportRequestProto } from './otlpProtoSpans.ts';
import { samplerFromEnv } from './traceExport.ts';

const CALLER = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  isRemote: true,
};

function tracer(env: Record<string, string> = {}) {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter });
  const warnings: string[] = [];
  const light = new LightTracer({
    resource: emptyResource(),
    scope: { name: 'test' },
    sampler: samplerFromEnv(env, (m) => warnings.push(m)),
    processor,
  });
  return {
    light,
    warnings,
    exported: async () => {
      await processor.forceFlush();
      return exporter.getFinishedSpans();
    },
  };
}

describe('the runtime’s tracer', () => {
  it('continues a sampled caller’s trace and exports each span once, as it was given', async () => {
    const { light, exported } = tracer();
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      ...CALLER,
      traceFlags: TraceFlags.SAMPLED,
    });
    const span = light.startSpan(
      'chat claude-a',
      {
        kind: SpanKind.CLIENT,
        attributes: { 'gen_ai.request.model': 'claude-a', skipped: undefined },
      },
      parent,
    );
    span.setAttributes({
      'gen_ai.usage.output_tokens': 20,
      'gen_ai.response.finish_reasons': ['end_turn'],
    });
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    span.end();
    span.setAttribute('after.end', 'ignored');
    const [done, ...more] = await exported();
    expect(more).toEqual([]);
    expect(done?.name).toBe('chat claude-a');
    expect(done?.kind).toBe(SpanKind.CLIENT);
    expect(done?.spanContext().traceId).toBe(CALLER.traceId);
    expect(done?.spanContext().spanId).not.toBe(CALLER.spanId);
    expect(done?.parentSpanContext?.spanId).toBe(CALLER.spanId);
    expect(done?.attributes).toEqual({
      'gen_ai.request.model': 'claude-a',
      'gen_ai.usage.output_tokens': 20,
      'gen_ai.response.finish_reasons': ['end_turn'],
    });
    expect(done?.status.code).toBe(SpanStatusCode.ERROR);
    expect(done?.ended).toBe(true);
  });

  it('starts a trace of its own without a caller, and records nothing under an unsampled one', async () => {
    const { light, exported } = tracer();
    const root = light.startSpan('request', {}, ROOT_CONTEXT);
    expect(root.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.spanContext().traceId).not.toBe(CALLER.traceId);
    root.end();
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
      ...CALLER,
      traceFlags: TraceFlags.NONE,
    });
    const child = light.startSpan('request', {}, unsampled);
    expect(child.isRecording()).toBe(false);
    child.end();
    expect((await exported()).map((s) => s.name)).toEqual(['request']);
  });

  it('samples as OTEL_TRACES_SAMPLER says, and names a value it cannot use', async () => {
    const off = tracer({ OTEL_TRACES_SAMPLER: 'always_off' });
    off.light.startSpan('request', {}, ROOT_CONTEXT).end();
    expect(await off.exported()).toEqual([]);
    const none = tracer({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    none.light.startSpan('request', {}, ROOT_CONTEXT).end();
    expect(await none.exported()).toEqual([]);
    const odd = tracer({ OTEL_TRACES_SAMPLER: 'jaeger_remote' });
    odd.light.startSpan('request', {}, ROOT_CONTEXT).end();
    expect(await odd.exported()).toHaveLength(1);
    expect(odd.warnings).toEqual([expect.stringContaining('jaeger_remote')]);
  });

  it('times a span as measured or as given, and parents a child on its span, not on a bad caller', async () => {
    const { light, exported } = tracer();
    const before = Date.now();
    const measured = light.startSpan('measured', {}, ROOT_CONTEXT);
    const child = light.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, measured));
    child.end();
    measured.end();
    const after = Date.now();
    const given = light.startSpan('given', { startTime: [1_700_000_000, 5] }, ROOT_CONTEXT);
    given.end([1_700_000_001, 7]);
    const badCaller = trace.setSpanContext(ROOT_CONTEXT, {
      ...CALLER,
      traceId: '0'.repeat(32),
      traceFlags: TraceFlags.SAMPLED,
    });
    light.startSpan('orphan', {}, badCaller).end();
    const byName = new Map((await exported()).map((s) => [s.name, s]));
    const first = byName.get('measured');
    const start = hrTimeToMilliseconds(first?.startTime ?? [0, 0]);
    const end = hrTimeToMilliseconds(first?.endTime ?? [0, 0]);
    expect(start).toBeGreaterThanOrEqual(before - 1);
    expect(end).toBeGreaterThanOrEqual(start);
    expect(end).toBeLessThanOrEqual(after + 1);
    expect(first?.duration).toEqual(
      hrTimeDuration(first?.startTime ?? [0, 0], first?.endTime ?? [0, 0]),
    );
    expect(byName.get('given')?.startTime).toEqual([1_700_000_000, 5]);
    expect(byName.get('given')?.endTime).toEqual([1_700_000_001, 7]);
    expect(byName.get('given')?.duration).toEqual([1, 2]);
    expect(byName.get('child')?.parentSpanContext).toEqual(first?.spanContext());
    expect(byName.get('child')?.spanContext().traceId).toBe(first?.spanContext().traceId);
    expect(byName.get('orphan')?.parentSpanContext).toBeUndefined();
    expect(byName.get('orphan')?.spanContext().traceId).not.toBe('0'.repeat(32));
  });

  it('keeps a key set again in its first place with its last value, and the writers read the same', async () => {
    const { light, exported } = tracer();
    const span = light.startSpan(
      'chat claude-a',
      { kind: SpanKind.CLIENT, attributes: { 'gen_ai.request.model': 'claude-a', n: 1 } },
      ROOT_CONTEXT,
    );
    span.setAttribute('breakwater.attempt', 1);
    // Read before more are set: what is read later has them.
    expect(Object.keys((span as unknown as ReadableSpan).attributes)).toHaveLength(3);
    span.setAttribute('gen_ai.request.model', 'claude-b');
    span.setAttribute('breakwater.attempt', 2);
    span.setAttribute('breakwater.outcome', 'Success');
    span.end();
    const [done] = await exported();
    if (done === undefined) throw new Error('no span exported');
    expect(Object.entries(done.attributes)).toEqual([
      ['gen_ai.request.model', 'claude-b'],
      ['n', 1],
      ['breakwater.attempt', 2],
      ['breakwater.outcome', 'Success'],
    ]);
    expect(attributePairs(done)).toEqual(Object.entries(done.attributes).flat());
    // The same span as a plain object, whose attributes the writers read by key.
    const plain: ReadableSpan = {
      name: done.name,
      kind: done.kind,
      spanContext: () => done.spanContext(),
      parentSpanContext: done.parentSpanContext,
      startTime: done.startTime,
      endTime: done.endTime,
      status: done.status,
      attributes: { ...done.attributes },
      links: done.links,
      events: done.events,
      duration: done.duration,
      ended: done.ended,
      resource: done.resource,
      instrumentationScope: done.instrumentationScope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
    expect(attributePairs(plain)).toBeUndefined();
    expect(exportRequestJson([done])).toBe(exportRequestJson([plain]));
    expect(exportRequestJson([done])).toContain('"breakwater.outcome"');
    expect(Buffer.from(exportRequestProto([done]))).toEqual(
      Buffer.from(exportRequestProto([plain])),
    );
  });
});

describe('the runtime’s span ids', () => {
  it('are W3C ids, each drawn once, across many refills of the pool', () => {
    const ids = new PooledIds();
    const traces = new Set<string>();
    const spans = new Set<string>();
    // 170 pairs a pool: this draws from about 30 pools.
    for (let i = 0; i < 5000; i++) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(trace.isSpanContextValid({ traceId, spanId, traceFlags: TraceFlags.SAMPLED })).toBe(
        true,
      );
      traces.add(traceId);
      spans.add(spanId);
    }
    expect(traces.size).toBe(5000);
    expect(spans.size).toBe(5000);
  });
});
