/**
 * OTLP/HTTP JSON for the runtime's spans, written straight to text (decision 0065). The SDK's
 * JSON serializer builds an object tree for every span (each attribute a `{key, value:
 * {stringValue}}` pair, each timestamp a BigInt) and then stringifies it; what it writes for a
 * span that has no events, links, status or dropped counts still carries those fields with
 * their defaults. Here each span is written once, in the same OTLP JSON the Collector reads
 * (the protobuf JSON mapping: fields at their default are left out, ids are hex, times are
 * decimal nanoseconds), the resource's part once per resource, and each attribute key's text
 * once per process.
 */
import { SpanStatusCode, type Attributes, type HrTime, type Link } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { attributePairs } from './lightSpans.ts';
import { undiciExportDelegate } from './undiciExportTransport.ts';
import {
  TraceExporterMetricsHelper,
  type IExportTraceServiceResponse,
  type ISerializer,
} from '@opentelemetry/otlp-transformer';

/** OTLP's span flags: the W3C trace flags, and whether the parent is known to be remote. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/**
 * Each attribute key's JSON text with the value it last had: most of a span's attributes
 * (operation, provider, models, address, backend, outcome) repeat from one span to the next,
 * so their text is reused whole. Bounded, as keys may come from anywhere.
 */
interface KeyText {
  readonly prefix: string;
  last: unknown;
  text: string;
}
const KEYS = new Map<string, KeyText>();
const MAX_KEYS = 1024;

/** `{"key":…,"value":{…}}` of one attribute. */
function keyValue(key: string, value: unknown): string {
  let known = KEYS.get(key);
  if (known === undefined) {
    known = { prefix: `{"key":${JSON.stringify(key)},"value":`, last: undefined, text: '' };
    if (KEYS.size < MAX_KEYS) KEYS.set(key, known);
  }
  if (known.last === value && typeof value !== 'object') return known.text;
  const text = known.prefix + anyValue(value) + '}';
  if (typeof value !== 'object') {
    known.last = value;
    known.text = text;
  }
  return text;
}

/** An attribute value as OTLP's AnyValue, as the SDK's serializer writes it. */
function anyValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return '{"stringValue":' + JSON.stringify(value) + '}';
    case 'number':
      if (!Number.isInteger(value) || Math.abs(value) >= 2 ** 63)
        // A fraction, or an integer beyond int64's range (1e300): the double it is.
        return '{"doubleValue":' + JSON.stringify(value) + '}';
      // An integer past 2^53 in its exact digits (JSON.stringify's shortest form is not them).
      return (
        '{"intValue":' +
        (Number.isSafeInteger(value) ? JSON.stringify(value) : BigInt(value).toString()) +
        '}'
      );
    case 'boolean':
      return value ? '{"boolValue":true}' : '{"boolValue":false}';
    default:
      if (Array.isArray(value)) {
        let values = '';
        for (const item of value) values += (values === '' ? '' : ',') + anyValue(item);
        return '{"arrayValue":{"values":[' + values + ']}}';
      }
      if (value instanceof Uint8Array)
        return '{"bytesValue":' + JSON.stringify(Buffer.from(value).toString('base64')) + '}';
      if (typeof value === 'object' && value !== null) {
        let values = '';
        for (const [key, item] of Object.entries(value))
          values +=
            (values === '' ? '' : ',') +
            '{"key":' +
            JSON.stringify(key) +
            ',"value":' +
            anyValue(item) +
            '}';
        return '{"kvlistValue":{"values":[' + values + ']}}';
      }
      return '{}';
  }
}

/** `,"attributes":[...]`, or '' when there are none. */
function attributesField(attributes: Attributes | undefined): string {
  if (attributes === undefined) return '';
  let out = '';
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    out += (out === '' ? ',"attributes":[' : ',') + keyValue(key, value);
  }
  return out === '' ? '' : out + ']';
}

/** A span's `,"attributes":[...]`, read from its pairs when it has them (attributePairs). */
function spanAttributesField(span: ReadableSpan): string {
  const pairs = attributePairs(span);
  if (pairs === undefined) return attributesField(span.attributes);
  let out = '';
  for (let i = 0; i < pairs.length; i += 2)
    out += (i === 0 ? ',"attributes":[' : ',') + keyValue(pairs[i] as string, pairs[i + 1]);
  return out === '' ? '' : out + ']';
}

/** Nanoseconds since the epoch as quoted decimal text (OTLP JSON's fixed64 is a string). */
export function unixNanos(time: HrTime): string {
  const [seconds, nanos] = time;
  if (
    Number.isInteger(seconds) &&
    Number.isInteger(nanos) &&
    seconds > 0 &&
    nanos >= 0 &&
    nanos < 1e9
  )
    return '"' + String(seconds) + String(nanos).padStart(9, '0') + '"';
  const total = BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(nanos));
  return '"' + total.toString() + '"';
}

/** OTLP's `flags` of a span or link: its trace flags, and whether its parent is remote. */
export function flagsOf(traceFlags: number, remote: boolean | undefined): number {
  return (traceFlags & 0xff) | HAS_IS_REMOTE | (remote === true ? IS_REMOTE : 0);
}

/** `,"name":count` when the count is not zero (OTLP JSON leaves zeros out). */
function countField(name: string, count: number | undefined): string {
  return count ? `,"${name}":${String(count)}` : '';
}

function eventJson(event: TimedEvent): string {
  return (
    '{"timeUnixNano":' +
    unixNanos(event.time) +
    ',"name":' +
    JSON.stringify(event.name) +
    attributesField(event.attributes) +
    countField('droppedAttributesCount', event.droppedAttributesCount) +
    '}'
  );
}

function linkJson(link: Link): string {
  const ctx = link.context;
  const state = ctx.traceState?.serialize();
  return (
    `{"traceId":"${ctx.traceId}","spanId":"${ctx.spanId}"` +
    (state ? ',"traceState":' + JSON.stringify(state) : '') +
    attributesField(link.attributes) +
    countField('droppedAttributesCount', link.droppedAttributesCount) +
    `,"flags":${String(flagsOf(ctx.traceFlags, ctx.isRemote))}}`
  );
}

function statusField({ code, message }: ReadableSpan['status']): string {
  if (code === SpanStatusCode.UNSET && !message) return '';
  const parts: string[] = [];
  if (message) parts.push('"message":' + JSON.stringify(message));
  if (code !== SpanStatusCode.UNSET) parts.push(`"code":${String(code)}`);
  return `,"status":{${parts.join(',')}}`;
}

/** One span as an OTLP JSON Span. */
export function spanJson(span: ReadableSpan): string {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  const state = ctx.traceState?.serialize();
  let out =
    '{"traceId":"' +
    ctx.traceId +
    '","spanId":"' +
    ctx.spanId +
    (parent?.spanId ? '","parentSpanId":"' + parent.spanId : '') +
    '","flags":' +
    String(flagsOf(ctx.traceFlags, parent?.isRemote)) +
    (state ? ',"traceState":' + JSON.stringify(state) : '') +
    ',"name":' +
    JSON.stringify(span.name) +
    ',"kind":' +
    String(span.kind + 1) +
    ',"startTimeUnixNano":' +
    unixNanos(span.startTime) +
    ',"endTimeUnixNano":' +
    unixNanos(span.endTime) +
    spanAttributesField(span);
  if (span.droppedAttributesCount)
    out += countField('droppedAttributesCount', span.droppedAttributesCount);
  if (span.events.length > 0) out += ',"events":[' + span.events.map(eventJson).join(',') + ']';
  if (span.droppedEventsCount) out += countField('droppedEventsCount', span.droppedEventsCount);
  if (span.links.length > 0) out += ',"links":[' + span.links.map(linkJson).join(',') + ']';
  if (span.droppedLinksCount) out += countField('droppedLinksCount', span.droppedLinksCount);
  return out + statusField(span.status) + '}';
}

const RESOURCES = new WeakMap<Resource, string>();

/** The opening of a ResourceSpans, its resource: written once per resource object. */
function resourceJson(resource: Resource): string {
  let json = RESOURCES.get(resource);
  if (json === undefined) {
    json =
      '{"resource":{' +
      attributesField(resource.attributes).slice(1) +
      '}' +
      (resource.schemaUrl ? ',"schemaUrl":' + JSON.stringify(resource.schemaUrl) : '');
    RESOURCES.set(resource, json);
  }
  return json;
}

function scopeJson(scope: ReadableSpan['instrumentationScope']): string {
  return (
    '{"scope":{"name":' +
    JSON.stringify(scope.name) +
    (scope.version ? ',"version":' + JSON.stringify(scope.version) : '') +
    '}' +
    (scope.schemaUrl ? ',"schemaUrl":' + JSON.stringify(scope.schemaUrl) : '')
  );
}

/**
 * UTF-8 bytes appended to a buffer that grows as needed. Each span's text goes in as it is
 * written: one string for the whole request would be a rope of thousands of pieces that the
 * encoder must first copy flat (that copy cost more than writing the text).
 */
class ByteWriter {
  #buffer = Buffer.allocUnsafe(64 * 1024);
  #length = 0;

  write(text: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    const needed = this.#length + text.length * 3;
    if (needed > this.#buffer.length) {
      const larger = Buffer.allocUnsafe(Math.max(needed, this.#buffer.length * 2));
      this.#buffer.copy(larger, 0, 0, this.#length);
      this.#buffer = larger;
    }
    this.#length += this.#buffer.write(text, this.#length);
  }

  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }
}

/** `spans` grouped by resource, then by scope, as an ExportTraceServiceRequest holds them. */
export function byResourceAndScope(
  spans: readonly ReadableSpan[],
): Map<Resource, Map<string, ReadableSpan[]>> {
  const byResource = new Map<Resource, Map<string, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = byResource.get(span.resource);
    if (scopes === undefined)
      byResource.set(span.resource, (scopes = new Map<string, ReadableSpan[]>()));
    const scope = span.instrumentationScope;
    const key = `${scope.name}@${scope.version ?? ''}:${scope.schemaUrl ?? ''}`;
    let list = scopes.get(key);
    if (list === undefined) scopes.set(key, (list = []));
    list.push(span);
  }
  return byResource;
}

/** An ExportTraceServiceRequest of `spans` as UTF-8, grouped by resource and scope as OTLP asks. */
export function exportRequest(spans: readonly ReadableSpan[]): Uint8Array {
  const byResource = byResourceAndScope(spans);
  const out = new ByteWriter();
  out.write('{"resourceSpans":[');
  let resourceSep = '';
  for (const [resource, scopes] of byResource) {
    out.write(resourceSep + resourceJson(resource) + ',"scopeSpans":[');
    resourceSep = ',';
    let scopeSep = '';
    for (const list of scopes.values()) {
      out.write(
        scopeSep + scopeJson((list[0] as ReadableSpan).instrumentationScope) + ',"spans":[',
      );
      scopeSep = ',';
      let spanSep = '';
      for (const span of list) {
        out.write(spanSep + spanJson(span));
        spanSep = ',';
      }
      out.write(']}');
    }
    out.write(']}');
  }
  out.write(']}');
  return out.bytes();
}

/** The same request as text. */
export function exportRequestJson(spans: readonly ReadableSpan[]): string {
  return new TextDecoder().decode(exportRequest(spans));
}

/** The SDK's serializer interface over this writer: what the OTLP/HTTP delegate sends. */
export const leanJsonSpanSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: exportRequest,
  deserializeResponse: (data) => {
    if (data.length === 0) return {};
    try {
      return JSON.parse(new TextDecoder().decode(data)) as IExportTraceServiceResponse;
    } catch {
      return {};
    }
  },
};

/**
 * The SDK's OTLP/HTTP span exporter (its endpoint, headers, timeout and retries from the same
 * OTEL_EXPORTER_OTLP_* variables) writing its JSON with `exportRequestJson`, sent over undici
 * (undiciExportTransport.ts says why).
 */
export function leanJsonSpanExporter(): SpanExporter {
  return new OTLPExporterBase(
    undiciExportDelegate(
      'TRACES',
      leanJsonSpanSerializer,
      { componentType: 'otlp_http_span_exporter', helper: TraceExporterMetricsHelper },
      'application/json',
    ),
  );
}
