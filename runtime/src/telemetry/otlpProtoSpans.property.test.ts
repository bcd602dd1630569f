/**
 * The runtime's OTLP protobuf for spans (otlpProtoSpans.ts) read back by a reference decoder
 * (protobufjs, from the opentelemetry-proto messages written out below), against what its JSON
 * writer (otlpJsonSpans.ts) says of the same spans: random spans of every value kind the runtime
 * can be given, with events, links, statuses, trace states, remote parents, several resources
 * and scopes. The schema below is itself checked against the SDK's protobuf serializer, so a
 * field number wrong in both it and the writer would show.
 *
 * Fixed seed and a bounded number of runs; BREAKWATER_PROPERTY_RUNS=N runs more.
 */
import { describe, expect, it } from '@jest/globals';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { collectingTracer, spanArb, spansOf } from '../../../test/support/otlpSpanArbitraries.ts';
import { exportRequestJson } from './otlpJsonSpans.ts';
import { exportRequestProto } from './otlpProtoSpans.ts';

const SEED = 52_0058;
const RUNS = Number(process.env.BREAKWATER_PROPERTY_RUNS ?? '150');

/** The messages of opentelemetry-proto an ExportTraceServiceRequest is made of. */
const SCHEMA = `
syntax = "proto3";
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope {
  string name = 1; string version = 2; repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Status { string message = 2; int32 code = 3; }
message Event {
  fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Link {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4;
  uint32 dropped_attributes_count = 5; fixed32 flags = 6;
}
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  fixed32 flags = 16; string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10; repeated Event events = 11;
  uint32 dropped_events_count = 12; repeated Link links = 13; uint32 dropped_links_count = 14;
  Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;
const REQUEST = protobuf.parse(SCHEMA).root.lookupType('ExportTraceServiceRequest');

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * A request in OTLP JSON's terms: ids as hex (`fromProto`: they were decoded as base64),
 * 64-bit integers as the JSON writer puts them (times as decimal strings, ints as numbers),
 * empty lists left out as JSON leaves them.
 */
function asJson(value: unknown, fromProto: boolean, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => asJson(v, fromProto));
  if (value === null || typeof value !== 'object') {
    if (fromProto && ID_FIELDS.has(key))
      return Buffer.from(String(value), 'base64').toString('hex');
    if (key === 'intValue') return Number(value);
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = asJson(v, fromProto, k);
  }
  return out;
}

function decoded(bytes: Uint8Array): unknown {
  return asJson(
    REQUEST.toObject(REQUEST.decode(bytes), { longs: String, bytes: String, defaults: false }),
    true,
  );
}

/** JSON's reading of itself, with the same empty lists left out (an empty array's `values`). */
function jsonOf(spans: readonly ReadableSpan[]): unknown {
  return asJson(JSON.parse(exportRequestJson(spans)), false);
}

describe('the runtime’s OTLP protobuf for spans', () => {
  it('says, read by a reference decoder, what its OTLP JSON says of the same spans', () => {
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 6 }), (plans) => {
        const spans = spansOf(plans);
        expect(decoded(exportRequestProto(spans))).toEqual(jsonOf(spans));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('writes the same attribute again after its value changed, and back', () => {
    const values = ['Success', 'Success', 'Timeout', 'Success', 7, 7, '7', -7, 2 ** 40, 0.5, true];
    const plans = values.map((value) => ({ value }));
    const ended: ReadableSpan[] = [];
    const tracer = collectingTracer(
      resourceFromAttributes({ 'service.name': 'svc' }),
      { name: 'breakwater-runtime' },
      ended,
    );
    for (const { value } of plans)
      tracer.startSpan('chat m', { attributes: { 'breakwater.outcome': value } }).end();
    const written = decoded(exportRequestProto(ended)) as {
      resourceSpans: { scopeSpans: { spans: { attributes: { value: unknown }[] }[] }[] }[];
    };
    expect(
      written.resourceSpans[0]?.scopeSpans[0]?.spans.map((s) => s.attributes[0]?.value),
    ).toEqual([
      { stringValue: 'Success' },
      { stringValue: 'Success' },
      { stringValue: 'Timeout' },
      { stringValue: 'Success' },
      { intValue: 7 },
      { intValue: 7 },
      { stringValue: '7' },
      { intValue: -7 },
      { intValue: 2 ** 40 },
      { doubleValue: 0.5 },
      { boolValue: true },
    ]);
  });

  it('is read by the schema above as the SDK’s own protobuf serializer’s request is', () => {
    // The SDK's request, decoded by the same schema, says what the SDK's spans are: the
    // schema's field numbers are the SDK's, not only this writer's.
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 3 }), (plans) => {
        const spans = spansOf(plans);
        const sdk = ProtobufTraceSerializer.serializeRequest(spans);
        if (sdk === undefined) throw new Error('the SDK wrote nothing');
        expect(decoded(exportRequestProto(spans))).toEqual(withoutDefaults(decoded(sdk)));
      }),
      { seed: SEED + 1, numRuns: Math.ceil(RUNS / 3) },
    );
  });
});

/** The SDK's request less the fields it writes at their default, which this writer leaves out. */
function withoutDefaults(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutDefaults(v));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (/^dropped\w+Count$/.test(k) && v === 0) continue;
    if ((k === 'traceState' || k === 'parentSpanId' || k === 'schemaUrl') && v === '') continue;
    if (key === 'status' && k === 'code' && v === 0) continue;
    const kept = withoutDefaults(v, k);
    if (kept !== undefined) out[k] = kept;
  }
  if (key === 'status' && Object.keys(out).length === 0) return undefined;
  return key === 'resource' && Object.keys(out).length === 0 ? {} : out;
}
