/**
 * Random spans of every kind of value the runtime's tracer (lightSpans.ts) can be given, for
 * the OTLP writers' tests: attributes of every AnyValue kind (strings, safe and large
 * integers, doubles, booleans, arrays, bytes, maps, a value long enough that its span's length
 * takes three bytes), events (an exception among them), links, statuses, trace states, remote
 * and local parents, unnormalised times, and several resources and scopes.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type HrTime,
  type Link,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AlwaysOnSampler, type ReadableSpan } from '@opentelemetry/sdk-trace';
import fc from 'fast-check';
import { LightTracer } from '../../runtime/src/telemetry/lightSpans.ts';

const text = (maxLength = 24) => fc.string({ unit: 'grapheme', maxLength });
const hex = (bytes: number) =>
  fc
    .uint8Array({ minLength: bytes, maxLength: bytes })
    .map((b) => Buffer.from(b).toString('hex'))
    .filter((h) => !/^0+$/.test(h));
const scalar = fc.oneof(
  text(),
  fc.constant(''),
  fc.maxSafeInteger(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.boolean(),
);
const attributeValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  fc.array(fc.oneof(text(), fc.integer()), { maxLength: 4 }),
  fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 3 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.dictionary(text(8), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })), { maxKeys: 3 }),
  // A value that makes its span's length take three bytes.
  fc.constant('x'.repeat(20_000)),
);
const attributes = (maxKeys: number) =>
  fc.dictionary(
    fc.oneof(text(12), fc.constantFrom('gen_ai.request.model', 'server.port')),
    attributeValue,
    { maxKeys },
  );
const hrTime: fc.Arbitrary<HrTime> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 999_999_999 })),
  // Unnormalised: more nanoseconds than a second's.
  fc.tuple(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1e9, max: 2 ** 31 - 1 })),
);
const traceState = fc.option(fc.constantFrom('vendor=a', 'a=1,b=two', 'congo=t61rcWkgMzE'), {
  nil: undefined,
});
const link = fc.record({
  traceId: hex(16),
  spanId: hex(8),
  sampled: fc.boolean(),
  remote: fc.option(fc.boolean(), { nil: undefined }),
  traceState,
  attributes: fc.option(attributes(3), { nil: undefined }),
});
export const spanArb = fc.record({
  name: text(200),
  kind: fc.constantFrom(
    SpanKind.INTERNAL,
    SpanKind.SERVER,
    SpanKind.CLIENT,
    SpanKind.PRODUCER,
    SpanKind.CONSUMER,
  ),
  parent: fc.option(
    fc.record({
      traceId: hex(16),
      spanId: hex(8),
      sampled: fc.boolean(),
      remote: fc.boolean(),
      traceState,
    }),
    { nil: undefined },
  ),
  start: hrTime,
  end: hrTime,
  attributes: attributes(8),
  later: fc.array(fc.tuple(text(12), attributeValue), { maxLength: 3 }),
  events: fc.array(
    fc.record({
      name: text(),
      attributes: fc.option(attributes(3), { nil: undefined }),
      time: hrTime,
    }),
    { maxLength: 3 },
  ),
  exception: fc.option(text(), { nil: undefined }),
  links: fc.array(link, { maxLength: 2 }),
  status: fc.option(
    fc.record({
      code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR),
      message: fc.option(text(), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  origin: fc.nat(3),
});
export type SpanPlan = typeof spanArb extends fc.Arbitrary<infer T> ? T : never;

/** Resources and scopes the spans come from: each span picks one by `origin`. */
function origins(): {
  resource: Resource;
  scope: { name: string; version?: string; schemaUrl?: string };
}[] {
  const a = resourceFromAttributes({ 'service.name': 'svc-"é"', 'process.pid': 42 });
  const b = resourceFromAttributes(
    { 'service.name': 'other', 'host.arch': ['x', 'y'], ratio: 0.5 },
    { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' },
  );
  return [
    { resource: a, scope: { name: 'breakwater-runtime' } },
    { resource: a, scope: { name: 'scoped', version: '1.2.3' } },
    { resource: b, scope: { name: 'breakwater-runtime', schemaUrl: 'https://example.com/s' } },
    { resource: b, scope: { name: 'breakwater-runtime' } },
  ];
}

/** The runtime's tracer, sampling every span, its spans put in `ended` as they end. */
export function collectingTracer(
  resource: Resource,
  scope: { name: string; version?: string; schemaUrl?: string },
  ended: ReadableSpan[],
): LightTracer {
  return new LightTracer({
    resource,
    scope,
    sampler: new AlwaysOnSampler(),
    processor: {
      onStart: () => undefined,
      onEnd: (span) => ended.push(span),
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    },
  });
}

/** The spans `plans` describe, ended, in the order given. */
export function spansOf(plans: readonly SpanPlan[]): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const tracers = origins().map(({ resource, scope }) => collectingTracer(resource, scope, ended));
  for (const plan of plans) {
    const ctx =
      plan.parent === undefined
        ? ROOT_CONTEXT
        : trace.setSpanContext(ROOT_CONTEXT, {
            traceId: plan.parent.traceId,
            spanId: plan.parent.spanId,
            traceFlags: plan.parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: plan.parent.remote,
            ...(plan.parent.traceState === undefined
              ? {}
              : { traceState: new TraceState(plan.parent.traceState) }),
          });
    const links: Link[] = plan.links.map((l) => ({
      context: {
        traceId: l.traceId,
        spanId: l.spanId,
        traceFlags: l.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        ...(l.remote === undefined ? {} : { isRemote: l.remote }),
        ...(l.traceState === undefined ? {} : { traceState: new TraceState(l.traceState) }),
      },
      ...(l.attributes === undefined ? {} : { attributes: l.attributes }),
    }));
    const span = (tracers[plan.origin] as LightTracer).startSpan(
      plan.name,
      {
        kind: plan.kind,
        startTime: plan.start,
        attributes: plan.attributes,
        links,
      },
      ctx,
    );
    for (const [key, value] of plan.later) span.setAttribute(key, value);
    for (const event of plan.events) span.addEvent(event.name, event.attributes, event.time);
    if (plan.exception !== undefined) span.recordException(new TypeError(plan.exception), plan.end);
    if (plan.status !== undefined)
      span.setStatus({
        code: plan.status.code,
        ...(plan.status.message === undefined ? {} : { message: plan.status.message }),
      });
    span.end(plan.end);
  }
  return ended;
}
