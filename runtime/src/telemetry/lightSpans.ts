/**
 * The runtime's own tracer: spans that keep what they are given and hand themselves, ended,
 * to the SDK's span processor and OTLP exporter (traceExport.ts), as the SDK's own spans do.
 *
 * Why not the SDK's tracer: a request makes two spans (the request's and its attempt's), and
 * the SDK's spent more on them than the rest of telemetry: it checks and copies every
 * attribute on every set, validates the parent's ids with regular expressions and counts
 * limits, for attributes that here are a fixed set of strings and numbers the runtime builds
 * itself (bench/results/HISTORY.md, telemetry: the SDK's span work was three fifths of what
 * telemetry cost a call). The sampling decision is still the SDK's sampler's (traceExport.ts),
 * and the export its processor's and exporter's; the ids are PooledIds' (below).
 */
import {
  context as contextApi,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { hrTime, hrTimeDuration, timeInputToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { randomFillSync } from 'node:crypto';
import {
  SamplingDecision,
  type IdGenerator,
  type ReadableSpan,
  type Sampler,
  type SpanProcessor,
  type TimedEvent,
} from '@opentelemetry/sdk-trace';

const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
const NOT_ENDED: HrTime = [0, 0];

/** A `performance.now()` reading as the HrTime since the epoch the SDK makes of it. */
function asHrTime(time: number | HrTime): HrTime {
  return typeof time === 'number' ? hrTime(time) : time;
}

/** Random bytes written out as hex at once: 170 trace and span id pairs. */
const POOL_BYTES = 4096;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Trace and span ids cut from a pool of random bytes that is written out as hex once per
 * 4 KiB. The SDK's RandomIdGenerator writes each id's bytes from Math.random into a buffer
 * and makes hex of them id by id: a trace and a span id cost about 1.2 µs there, 0.25 µs here
 * (bench/results/HISTORY.md, telemetry, 2026-11-29). Ids are W3C's: lowercase hex, 32 and 16
 * characters, never all zeros (one would be drawn again). The bytes are crypto's.
 */
export class PooledIds implements IdGenerator {
  readonly #bytes = Buffer.allocUnsafe(POOL_BYTES);
  #hex = '';
  #at = 0;

  generateTraceId(): string {
    const id = this.#take(32);
    return id === ZERO_TRACE_ID ? this.generateTraceId() : id;
  }

  generateSpanId(): string {
    const id = this.#take(16);
    return id === ZERO_SPAN_ID ? this.generateSpanId() : id;
  }

  #take(chars: number): string {
    if (this.#at + chars > this.#hex.length) {
      this.#hex = randomFillSync(this.#bytes).toString('hex');
      this.#at = 0;
    }
    const id = this.#hex.slice(this.#at, this.#at + chars);
    this.#at += chars;
    return id;
  }
}

/** Where the runtime's spans go: the resource they describe and the processor that exports them. */
export interface SpanSink {
  readonly resource: Resource;
  readonly scope: { readonly name: string };
  readonly sampler: Sampler;
  readonly processor: SpanProcessor;
}

class LightSpan implements Span, ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  status: SpanStatus = UNSET;
  readonly links: Link[];
  readonly events: TimedEvent[] = [];
  ended = false;
  readonly resource: Resource;
  readonly instrumentationScope: { readonly name: string };
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;
  readonly #processor: SpanProcessor;
  /**
   * Start and end as `performance.now()` or as given; made HrTime only when read (the export
   * reads them; the call that made the span does not).
   */
  readonly #start: number | HrTime;
  #end: number | HrTime | undefined;
  #startTime: HrTime | undefined;
  #endTime: HrTime | undefined;
  /**
   * The attributes as keys and values in turn, each key once, in the order first set: pushed
   * to, not stored by key into an object whose shape changes with every new key (see
   * attributePairs). The object `attributes` is made of them only when something reads it.
   */
  readonly #pairs: unknown[] = [];
  #attributes: Attributes | undefined;

  constructor(
    sink: SpanSink,
    name: string,
    kind: SpanKind,
    spanContext: SpanContext,
    parent: SpanContext | undefined,
    options: SpanOptions,
    attributes: Attributes | undefined,
  ) {
    this.name = name;
    this.kind = kind;
    this.#context = spanContext;
    this.parentSpanContext = parent;
    this.#start =
      options.startTime === undefined ? performance.now() : timeInputToHrTime(options.startTime);
    // The runtime's own attributes, built for this span: kept as given, undefined ones left out.
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined) this.#pairs.push(key, value);
    }
    this.links = options.links === undefined ? [] : [...options.links];
    this.resource = sink.resource;
    this.instrumentationScope = sink.scope;
    this.#processor = sink.processor;
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  get startTime(): HrTime {
    this.#startTime ??= asHrTime(this.#start);
    return this.#startTime;
  }

  get endTime(): HrTime {
    if (this.#end === undefined) return NOT_ENDED;
    this.#endTime ??= asHrTime(this.#end);
    return this.#endTime;
  }

  get duration(): HrTime {
    return this.#end === undefined ? NOT_ENDED : hrTimeDuration(this.startTime, this.endTime);
  }

  /**
   * The attributes as an object, as ReadableSpan has them; made from the pairs when first
   * read (again if one was set since), for readers other than the runtime's OTLP writers.
   */
  get attributes(): Attributes {
    if (this.#attributes === undefined) {
      const made: Attributes = {};
      const pairs = this.#pairs;
      for (let i = 0; i < pairs.length; i += 2) made[pairs[i] as string] = pairs[i + 1];
      this.#attributes = made;
    }
    return this.#attributes;
  }

  /** The attributes as keys and values in turn (attributePairs). */
  pairs(): readonly unknown[] {
    return this.#pairs;
  }

  setAttribute(key: string, value: Attributes[string]): this {
    if (this.ended || value === undefined) return this;
    const pairs = this.#pairs;
    this.#attributes = undefined;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] === key) {
        pairs[i + 1] = value;
        return this;
      }
    }
    pairs.push(key, value);
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const timeGiven =
      typeof attributesOrTime === 'number' ||
      attributesOrTime instanceof Date ||
      Array.isArray(attributesOrTime);
    const when = timeGiven ? attributesOrTime : time;
    this.events.push({
      name,
      attributes: timeGiven ? {} : (attributesOrTime ?? {}),
      time: when === undefined ? hrTime() : timeInputToHrTime(when),
      droppedAttributesCount: 0,
    });
    return this;
  }

  addLink(link: Link): this {
    this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    this.links.push(...links);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (!this.ended) this.status = status;
    return this;
  }

  updateName(): this {
    // The runtime names a span once; its name is the conventions' (`chat {model}`).
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.#end = endTime === undefined ? performance.now() : timeInputToHrTime(endTime);
    this.#processor.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes =
      typeof exception === 'string'
        ? { 'exception.message': exception }
        : {
            'exception.type': exception.name ?? String(exception.code ?? 'Error'),
            'exception.message': exception.message ?? '',
          };
    this.addEvent('exception', attributes, time);
  }
}

/**
 * A span's attributes as keys and values in turn, each key once, when it is a LightSpan; else
 * undefined (read its `attributes`). For the OTLP writers (otlpProtoSpans.ts, otlpJsonSpans.ts).
 *
 * Why pairs: an object given its keys one store at a time changes hidden class with each new
 * key, and a request's span gets its keys in orders and sets that differ by call (stream or
 * not, max_tokens, the server's address, a failed attempt): the span's two keyed stores were
 * megamorphic (`node --log-ic`) and went through V8's shared stub cache on every attribute of
 * every call, beside the relay's own megamorphic sites. Pushes on an array stay on one shape.
 * Measured 4-6 % less CPU a call with telemetry on, each run within the bench's spread, and
 * likely less (bench/results/HISTORY.md, telemetry, 2026-11-29, tel61).
 */
export function attributePairs(span: ReadableSpan): readonly unknown[] | undefined {
  return span instanceof LightSpan ? span.pairs() : undefined;
}

/** A tracer making LightSpans into `sink`, sampled by its sampler as the SDK's tracer would. */
export class LightTracer implements Tracer {
  readonly #sink: SpanSink;
  readonly #ids = new PooledIds();

  constructor(sink: SpanSink) {
    this.#sink = sink;
  }

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = contextApi.active()): Span {
    const parentSpan = options.root === true ? undefined : trace.getSpan(ctx);
    const parent = parentSpan?.spanContext();
    // A span of this tracer has the generator's ids: only another's are checked.
    const valid =
      parent !== undefined && (parentSpan instanceof LightSpan || trace.isSpanContextValid(parent));
    const traceId = valid ? parent.traceId : this.#ids.generateTraceId();
    const spanId = this.#ids.generateSpanId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links ?? [];
    const sampled = this.#sink.sampler.shouldSample(
      ctx,
      traceId,
      name,
      kind,
      options.attributes ?? {},
      links,
    );
    const traceState = sampled.traceState ?? (valid ? parent.traceState : undefined);
    const spanContext: SpanContext = {
      traceId,
      spanId,
      traceFlags:
        sampled.decision === SamplingDecision.RECORD_AND_SAMPLED
          ? TraceFlags.SAMPLED
          : TraceFlags.NONE,
      ...(traceState === undefined ? {} : { traceState }),
    };
    if (sampled.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const attributes =
      sampled.attributes === undefined
        ? options.attributes
        : { ...options.attributes, ...sampled.attributes };
    const span = new LightSpan(
      this.#sink,
      name,
      kind,
      spanContext,
      valid ? parent : undefined,
      options,
      attributes,
    );
    this.#sink.processor.onStart(span, ctx);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = rest.length > 1 ? (rest[0] as SpanOptions) : {};
    const parent = rest.length > 2 ? (rest[1] as Context) : contextApi.active();
    const span = this.startSpan(name, options, parent);
    return contextApi.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}
