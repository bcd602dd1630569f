/**
 * OTLP/HTTP protobuf for the runtime's spans, written by the runtime itself (issue 52's
 * telemetry cost): the ExportTraceServiceRequest of opentelemetry-proto's
 * collector/trace/v1, its fields under their numbers there, straight into one buffer. Ids go
 * as their raw bytes, times as fixed64 nanoseconds, strings as their UTF-8 with no escaping;
 * fields at their default are left out, as the JSON writer leaves them out (otlpJsonSpans.ts),
 * so both say the same to a reader. Each attribute's bytes (key and value) are kept while its
 * value repeats, the resource's and the scope's once per object, as the JSON writer does.
 *
 * A message's length comes before it and is known only once it is written: each is written
 * after a guess of its length's size, and moved along when the guess was short (rare: one byte
 * for an attribute, two for a span).
 */
import { SpanStatusCode, type Attributes, type HrTime, type Link } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import {
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
  type IExportTraceServiceResponse,
  type ISerializer,
} from '@opentelemetry/otlp-transformer';
import { byResourceAndScope, flagsOf } from './otlpJsonSpans.ts';
import { attributePairs } from './lightSpans.ts';
import { undiciExportDelegate } from './undiciExportTransport.ts';

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const tag = (field: number, wire: number): number => (field << 3) | wire;

// ExportTraceServiceRequest, ResourceSpans, ScopeSpans, Resource, InstrumentationScope.
const REQUEST_RESOURCE_SPANS = tag(1, LEN);
const RESOURCE_SPANS_RESOURCE = tag(1, LEN);
const RESOURCE_SPANS_SCOPE_SPANS = tag(2, LEN);
const RESOURCE_SPANS_SCHEMA_URL = tag(3, LEN);
const SCOPE_SPANS_SCOPE = tag(1, LEN);
const SCOPE_SPANS_SPANS = tag(2, LEN);
const SCOPE_SPANS_SCHEMA_URL = tag(3, LEN);
const RESOURCE_ATTRIBUTES = tag(1, LEN);
const SCOPE_NAME = tag(1, LEN);
const SCOPE_VERSION = tag(2, LEN);
// Span.
const SPAN_TRACE_ID = tag(1, LEN);
const SPAN_SPAN_ID = tag(2, LEN);
const SPAN_TRACE_STATE = tag(3, LEN);
const SPAN_PARENT_SPAN_ID = tag(4, LEN);
const SPAN_NAME = tag(5, LEN);
const SPAN_KIND = tag(6, VARINT);
const SPAN_START = tag(7, I64);
const SPAN_END = tag(8, I64);
const SPAN_ATTRIBUTES = tag(9, LEN);
const SPAN_DROPPED_ATTRIBUTES = tag(10, VARINT);
const SPAN_EVENTS = tag(11, LEN);
const SPAN_DROPPED_EVENTS = tag(12, VARINT);
const SPAN_LINKS = tag(13, LEN);
const SPAN_DROPPED_LINKS = tag(14, VARINT);
const SPAN_STATUS = tag(15, LEN);
const SPAN_FLAGS = tag(16, I32);
// Span.Event, Span.Link, Status.
const EVENT_TIME = tag(1, I64);
const EVENT_NAME = tag(2, LEN);
const EVENT_ATTRIBUTES = tag(3, LEN);
const EVENT_DROPPED_ATTRIBUTES = tag(4, VARINT);
const LINK_TRACE_ID = tag(1, LEN);
const LINK_SPAN_ID = tag(2, LEN);
const LINK_TRACE_STATE = tag(3, LEN);
const LINK_ATTRIBUTES = tag(4, LEN);
const LINK_DROPPED_ATTRIBUTES = tag(5, VARINT);
const LINK_FLAGS = tag(6, I32);
const STATUS_MESSAGE = tag(2, LEN);
const STATUS_CODE = tag(3, VARINT);
// KeyValue, AnyValue, ArrayValue, KeyValueList.
const KV_KEY = tag(1, LEN);
const KV_VALUE = tag(2, LEN);
const ANY_STRING = tag(1, LEN);
const ANY_BOOL = tag(2, VARINT);
const ANY_INT = tag(3, VARINT);
const ANY_DOUBLE = tag(4, I64);
const ANY_ARRAY = tag(5, LEN);
const ANY_KVLIST = tag(6, LEN);
const ANY_BYTES = tag(7, LEN);
const LIST_VALUES = tag(1, LEN);

const TWO_32 = 2 ** 32;
const TWO_63 = 2 ** 63;

/** Bytes of a varint holding `n` (0 ≤ n < 2^53). */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** A hex digit's value by its character code; 0 for anything else. */
const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** Protobuf written forward into one buffer that grows as needed. */
class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const larger = Buffer.allocUnsafe(Math.max(this.pos + more, this.buf.length * 2));
    this.buf.copy(larger, 0, 0, this.pos);
    this.buf = larger;
  }

  /** A varint of 0 ≤ n < 2^53. */
  varint(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (n > 0x7fffffff) {
      buf[pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** A varint of the 64 bits `high`·2^32 + `low` (two's complement for a negative int64). */
  varint64(low: number, high: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (high !== 0 || low > 0x7f) {
      buf[pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[pos++] = low;
    this.pos = pos;
  }

  fixed32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    const buf = this.buf;
    buf.writeUInt32LE(low >>> 0, this.pos);
    buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(n: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
  }

  /** A length-delimited field of `text`'s UTF-8. */
  string(field: number, text: string): void {
    const length = text.length;
    this.ensure(length * 3 + 12);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = field;
    if (length < 0x80) {
      // Most are short and ASCII: written here, without a call out of JavaScript.
      let i = 0;
      for (; i < length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos + 1 + i] = c;
      }
      if (i === length) {
        buf[pos] = length;
        this.pos = pos + 1 + length;
        return;
      }
    }
    this.pos = pos;
    const at = this.begin(varintSize(length * 3));
    this.pos += this.buf.write(text, this.pos, 'utf8');
    this.end(at);
  }

  /** A length-delimited field of hex `id`'s bytes. */
  hexBytes(field: number, id: string): void {
    const length = id.length >>> 1;
    if (length > 0x7f) {
      // Not an id of W3C's (16 or 8 bytes): as Buffer reads it.
      const bytes = Buffer.from(id, 'hex');
      this.varint(field);
      this.varint(bytes.length);
      this.bytes(bytes);
      return;
    }
    this.ensure(length + 6);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = field;
    buf[pos++] = length;
    for (let i = 0; i < length; i++)
      buf[pos++] =
        ((HEX[id.charCodeAt(2 * i) & 0x7f] ?? 0) << 4) |
        (HEX[id.charCodeAt(2 * i + 1) & 0x7f] ?? 0);
    this.pos = pos;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    if (data.length <= 32) {
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < data.length; i++) buf[pos++] = data[i] ?? 0;
      this.pos = pos;
    } else {
      this.buf.set(data, this.pos);
      this.pos += data.length;
    }
  }

  /**
   * The opening of a nested message whose length is not known yet: `reserve` bytes kept for
   * it. Returns where the message starts; `end` writes its length there.
   */
  begin(reserve: number): number {
    this.ensure(reserve);
    this.pos += reserve;
    return this.pos * 8 + reserve;
  }

  end(mark: number): void {
    const reserve = mark % 8;
    const start = (mark - reserve) / 8;
    const length = this.pos - start;
    const size = varintSize(length);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(start - reserve + size, start, this.pos);
      this.pos += size - reserve;
    }
    let at = start - reserve;
    let n = length;
    while (n > 0x7f) {
      this.buf[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[at] = n;
  }

  /** A copy of what was written. */
  done(): Uint8Array {
    return new Uint8Array(this.buf.subarray(0, this.pos));
  }
}

/** Nanoseconds since the epoch as fixed64, as the JSON writer reads HrTime (`unixNanos`). */
function writeTime(out: ProtoWriter, [seconds, nanos]: HrTime): void {
  if (
    Number.isInteger(seconds) &&
    Number.isInteger(nanos) &&
    seconds > 0 &&
    seconds < TWO_32 &&
    nanos >= 0 &&
    nanos < 1e9
  ) {
    // seconds·1e9 + nanos exactly, in halves of 32 bits: seconds is split so that each
    // product stays below 2^53.
    const high16 = Math.floor(seconds / 65536);
    const low16 = seconds % 65536;
    const a = high16 * 1e9; // times 2^16
    const aHigh = Math.floor(a / 65536);
    const b = (a % 65536) * 65536 + low16 * 1e9 + nanos;
    out.fixed64(b % TWO_32, aHigh + Math.floor(b / TWO_32));
    return;
  }
  const total = BigInt.asUintN(
    64,
    BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(nanos)),
  );
  out.fixed64(Number(total & 0xffffffffn), Number(total >> 32n));
}

/** An int64 varint of integer `n` (|n| < 2^63). */
function writeInt64(out: ProtoWriter, n: number): void {
  if (n >= 0 && n < TWO_32) {
    out.varint(n);
    return;
  }
  if (Number.isSafeInteger(n)) {
    out.varint64(n >>> 0, Math.floor(n / TWO_32) >>> 0);
    return;
  }
  const bits = BigInt.asUintN(64, BigInt(n));
  out.varint64(Number(bits & 0xffffffffn), Number(bits >> 32n));
}

/** An AnyValue's fields (its message's body), as the JSON writer's `anyValue` says them. */
function writeAnyValue(out: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      out.string(ANY_STRING, value);
      return;
    case 'number':
      if (Number.isInteger(value) && Math.abs(value) < TWO_63) {
        out.varint(ANY_INT);
        writeInt64(out, value);
      } else {
        out.varint(ANY_DOUBLE);
        out.double(value);
      }
      return;
    case 'boolean':
      out.varint(ANY_BOOL);
      out.varint(value ? 1 : 0);
      return;
    default:
      if (Array.isArray(value)) {
        out.varint(ANY_ARRAY);
        const list = out.begin(1);
        for (const item of value as unknown[]) {
          out.varint(LIST_VALUES);
          const one = out.begin(1);
          writeAnyValue(out, item);
          out.end(one);
        }
        out.end(list);
        return;
      }
      if (value instanceof Uint8Array) {
        out.varint(ANY_BYTES);
        out.varint(value.length);
        out.bytes(value);
        return;
      }
      if (typeof value === 'object' && value !== null) {
        out.varint(ANY_KVLIST);
        const list = out.begin(1);
        for (const [key, item] of Object.entries(value)) {
          out.varint(LIST_VALUES);
          const one = out.begin(1);
          writeKeyValueBody(out, key, item);
          out.end(one);
        }
        out.end(list);
      }
  }
}

function writeKeyValueBody(out: ProtoWriter, key: string, value: unknown): void {
  out.string(KV_KEY, key);
  out.varint(KV_VALUE);
  const any = out.begin(1);
  writeAnyValue(out, value);
  out.end(any);
}

/**
 * A span attribute's KeyValue bytes (the field's tag and length too), kept once its value
 * repeats from one span to the next, as most of a span's attributes do (operation, provider,
 * models, address, backend, outcome); those that change each time (ids, token counts) are
 * written each time and never kept. Bounded, as keys may come from anywhere.
 */
interface KeyBytes {
  /** The value the key had last. */
  last: unknown;
  /** `bytes` are those of this value. */
  kept: unknown;
  bytes: Uint8Array | undefined;
}
const KEYS = new Map<string, KeyBytes>();
const MAX_KEYS = 1024;

function writeKeyValue(out: ProtoWriter, field: number, key: string, value: unknown): void {
  let known: KeyBytes | undefined;
  if (field === SPAN_ATTRIBUTES && typeof value !== 'object') {
    known = KEYS.get(key);
    if (known === undefined && KEYS.size < MAX_KEYS) {
      known = { last: undefined, kept: undefined, bytes: undefined };
      KEYS.set(key, known);
    }
    if (known?.bytes !== undefined && known.kept === value) {
      out.bytes(known.bytes);
      return;
    }
  }
  const from = out.pos;
  out.varint(field);
  const kv = out.begin(1);
  writeKeyValueBody(out, key, value);
  out.end(kv);
  if (known === undefined) return;
  if (known.last === value) {
    known.bytes = new Uint8Array(out.buf.subarray(from, out.pos));
    known.kept = value;
  }
  known.last = value;
}

function writeAttributes(
  out: ProtoWriter,
  field: number,
  attributes: Attributes | undefined,
): void {
  if (attributes === undefined) return;
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) writeKeyValue(out, field, key, value);
  }
}

function writeCount(out: ProtoWriter, field: number, count: number | undefined): void {
  if (count) {
    out.varint(field);
    out.varint(count);
  }
}

function writeEvent(out: ProtoWriter, event: TimedEvent): void {
  out.varint(SPAN_EVENTS);
  const at = out.begin(1);
  out.varint(EVENT_TIME);
  writeTime(out, event.time);
  out.string(EVENT_NAME, event.name);
  writeAttributes(out, EVENT_ATTRIBUTES, event.attributes);
  writeCount(out, EVENT_DROPPED_ATTRIBUTES, event.droppedAttributesCount);
  out.end(at);
}

function writeLink(out: ProtoWriter, link: Link): void {
  const ctx = link.context;
  const state = ctx.traceState?.serialize();
  out.varint(SPAN_LINKS);
  const at = out.begin(1);
  out.hexBytes(LINK_TRACE_ID, ctx.traceId);
  out.hexBytes(LINK_SPAN_ID, ctx.spanId);
  if (state) out.string(LINK_TRACE_STATE, state);
  writeAttributes(out, LINK_ATTRIBUTES, link.attributes);
  writeCount(out, LINK_DROPPED_ATTRIBUTES, link.droppedAttributesCount);
  out.varint(LINK_FLAGS);
  out.fixed32(flagsOf(ctx.traceFlags, ctx.isRemote));
  out.end(at);
}

/** One span as a ScopeSpans' `spans` field. */
function writeSpan(out: ProtoWriter, span: ReadableSpan): void {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  const state = ctx.traceState?.serialize();
  out.varint(SCOPE_SPANS_SPANS);
  const at = out.begin(2);
  out.hexBytes(SPAN_TRACE_ID, ctx.traceId);
  out.hexBytes(SPAN_SPAN_ID, ctx.spanId);
  if (state) out.string(SPAN_TRACE_STATE, state);
  if (parent?.spanId) out.hexBytes(SPAN_PARENT_SPAN_ID, parent.spanId);
  out.string(SPAN_NAME, span.name);
  out.varint(SPAN_KIND);
  out.varint(span.kind + 1);
  out.varint(SPAN_START);
  writeTime(out, span.startTime);
  out.varint(SPAN_END);
  writeTime(out, span.endTime);
  const pairs = attributePairs(span);
  if (pairs === undefined) writeAttributes(out, SPAN_ATTRIBUTES, span.attributes);
  else
    for (let i = 0; i < pairs.length; i += 2)
      writeKeyValue(out, SPAN_ATTRIBUTES, pairs[i] as string, pairs[i + 1]);
  writeCount(out, SPAN_DROPPED_ATTRIBUTES, span.droppedAttributesCount);
  for (const event of span.events) writeEvent(out, event);
  writeCount(out, SPAN_DROPPED_EVENTS, span.droppedEventsCount);
  for (const link of span.links) writeLink(out, link);
  writeCount(out, SPAN_DROPPED_LINKS, span.droppedLinksCount);
  const { code, message } = span.status;
  if (code !== SpanStatusCode.UNSET || message) {
    out.varint(SPAN_STATUS);
    const status = out.begin(1);
    if (message) out.string(STATUS_MESSAGE, message);
    if (code !== SpanStatusCode.UNSET) {
      out.varint(STATUS_CODE);
      out.varint(code);
    }
    out.end(status);
  }
  out.varint(SPAN_FLAGS);
  out.fixed32(flagsOf(ctx.traceFlags, parent?.isRemote));
  out.end(at);
}

const RESOURCES = new WeakMap<Resource, Uint8Array>();

/** A ResourceSpans' `resource` and `schema_url` fields: written once per resource object. */
function resourceBytes(resource: Resource): Uint8Array {
  let bytes = RESOURCES.get(resource);
  if (bytes === undefined) {
    const out = new ProtoWriter(1024);
    out.varint(RESOURCE_SPANS_RESOURCE);
    const at = out.begin(2);
    writeAttributes(out, RESOURCE_ATTRIBUTES, resource.attributes);
    out.end(at);
    if (resource.schemaUrl) out.string(RESOURCE_SPANS_SCHEMA_URL, resource.schemaUrl);
    bytes = out.done();
    RESOURCES.set(resource, bytes);
  }
  return bytes;
}

function writeScope(out: ProtoWriter, scope: ReadableSpan['instrumentationScope']): void {
  out.varint(SCOPE_SPANS_SCOPE);
  const at = out.begin(1);
  out.string(SCOPE_NAME, scope.name);
  if (scope.version) out.string(SCOPE_VERSION, scope.version);
  out.end(at);
  if (scope.schemaUrl) out.string(SCOPE_SPANS_SCHEMA_URL, scope.schemaUrl);
}

/** The writer of the requests; what each request returns is a copy of its bytes. */
const WRITER = new ProtoWriter(64 * 1024);

/** An ExportTraceServiceRequest of `spans` in protobuf, grouped by resource and scope. */
export function exportRequestProto(spans: readonly ReadableSpan[]): Uint8Array {
  const out = WRITER;
  out.reset();
  for (const [resource, scopes] of byResourceAndScope(spans)) {
    out.varint(REQUEST_RESOURCE_SPANS);
    // A batch's spans of one resource: 512 of them take some 300 KiB, a length of 3 bytes.
    const resourceSpans = out.begin(3);
    out.bytes(resourceBytes(resource));
    for (const list of scopes.values()) {
      out.varint(RESOURCE_SPANS_SCOPE_SPANS);
      const scopeSpans = out.begin(3);
      writeScope(out, (list[0] as ReadableSpan).instrumentationScope);
      for (const span of list) writeSpan(out, span);
      out.end(scopeSpans);
    }
    out.end(resourceSpans);
  }
  return out.done();
}

/** The SDK's serializer interface over this writer: what the OTLP/HTTP delegate sends. */
export const leanProtoSpanSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: exportRequestProto,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/**
 * The SDK's OTLP/HTTP span exporter (its endpoint, headers, timeout and retries from the same
 * OTEL_EXPORTER_OTLP_* variables) sending `exportRequestProto`'s bytes as
 * application/x-protobuf over undici (undiciExportTransport.ts says why).
 */
export function leanProtoSpanExporter(): SpanExporter {
  return new OTLPExporterBase(
    undiciExportDelegate(
      'TRACES',
      leanProtoSpanSerializer,
      { componentType: 'otlp_http_span_exporter', helper: TraceExporterMetricsHelper },
      'application/x-protobuf',
    ),
  );
}
