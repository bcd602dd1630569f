/**
 * What writing one export of the runtime's spans costs (issue 52's telemetry cost): a batch of
 * 512 `chat {model}` spans as the runtime makes them for relayed calls (lightSpans.ts, the
 * attributes tracing.ts sets; each its own response id and token counts), written as an
 * ExportTraceServiceRequest by each encoder in turn: the runtime's OTLP JSON (otlpJsonSpans.ts)
 * and protobuf (otlpProtoSpans.ts) writers, and the SDK's JSON and protobuf serializers.
 *
 *   node --expose-gc --max-semi-space-size=256 bench/runtime/spanEncoding.ts [--repeats 7]
 *
 * Per encoder: µs of CPU time a span (the process's, all threads: the median of `repeats`
 * timings, each of enough batches to take about half a second, encoders taking turns), bytes a
 * span on the wire, and bytes a span allocated (heap and array buffers, from a collected heap
 * over 3 batches, with a young generation large enough that none is collected meanwhile: tried
 * again when one was). Prints a JSON line (bench/results/runtime-span-encoding.json keeps runs
 * of it).
 */
import { ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { exportRequest } from '../../runtime/src/telemetry/otlpJsonSpans.ts';
import { exportRequestProto } from '../../runtime/src/telemetry/otlpProtoSpans.ts';
import { collectingTracer } from '../../test/support/otlpSpanArbitraries.ts';
import { median } from '../../tools/stats/samples.ts';

const { values: flags } = parseArgs({ options: { repeats: { type: 'string', default: '7' } } });
const BATCH = 512;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (the header says how)');

function batch(): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const tracer = collectingTracer(
    resourceFromAttributes({
      'service.name': 'breakwater-runtime',
      'service.instance.id': '0f9a6c1e-5d0b-4f7e-9a55-3c2b1d0e7f61',
      'host.name': 'agent-7c9d8b6f5-x2k4q',
      'host.arch': 'amd64',
      'os.type': 'linux',
      'process.pid': 4242,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': '24.11.1',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.version': '2.2.0',
    }),
    { name: 'breakwater-runtime' },
    ended,
  );
  for (let i = 0; i < BATCH; i++) {
    const caller = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: (0x10000000 + i).toString(16).padStart(16, 'b'),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const span = tracer.startSpan(
      'chat claude-sonnet-4-5',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'claude-sonnet-4-5',
          'gen_ai.request.max_tokens': 1024,
        },
      },
      i % 2 === 0 ? caller : ROOT_CONTEXT,
    );
    span.setAttributes({
      'gen_ai.provider.name': 'anthropic',
      'server.address': 'api.anthropic.com',
      'server.port': 443,
      'breakwater.backend': 'anthropic-primary',
      'breakwater.attempt': 1,
      'breakwater.breaker.state': 'closed',
      'gen_ai.usage.input_tokens': 180 + (i % 37),
      'gen_ai.usage.output_tokens': 40 + (i % 211),
      'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
      'gen_ai.response.id': `msg_01${i.toString(36).padStart(22, 'x')}`,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'breakwater.outcome': 'Success',
    });
    span.end();
  }
  return ended;
}

const ENCODERS: Record<string, (spans: ReadableSpan[]) => Uint8Array | undefined> = {
  runtimeJson: exportRequest,
  runtimeProto: exportRequestProto,
  sdkJson: (spans) => JsonTraceSerializer.serializeRequest(spans),
  sdkProto: (spans) => ProtobufTraceSerializer.serializeRequest(spans),
};

const spans = batch();
const names = Object.keys(ENCODERS);
const encode = (name: string) => ENCODERS[name]?.(spans)?.length ?? 0;

// Warm up, and how many batches take about half a second each.
const batchesOf = new Map<string, number>();
for (const name of names) {
  for (let i = 0; i < 50; i++) encode(name);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < 200) {
    encode(name);
    n++;
  }
  batchesOf.set(name, Math.max(5, Math.round((n * 500) / 200)));
}

const timings = new Map<string, number[]>(names.map((n) => [n, []]));
const repeats = Number(flags.repeats);
for (let r = 0; r < repeats; r++)
  for (let k = 0; k < names.length; k++) {
    const name = names[(r + k) % names.length] as string;
    const batches = batchesOf.get(name) ?? 5;
    const start = process.cpuUsage();
    for (let i = 0; i < batches; i++) encode(name);
    const used = process.cpuUsage(start);
    timings.get(name)?.push((used.user + used.system) / (batches * BATCH));
  }

/** Collections seen since the last look (a measure of allocation is void across one). */
let collections = 0;
new PerformanceObserver((list) => {
  collections += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

async function allocatedPerSpan(name: string): Promise<number | undefined> {
  const batches = 3;
  for (let attempt = 0; attempt < 5; attempt++) {
    // Collected, and the array buffers that frees released (off the main thread), twice.
    gc?.();
    await settle();
    gc?.();
    await settle();
    collections = 0;
    const before = process.memoryUsage();
    for (let i = 0; i < batches; i++) encode(name);
    const after = process.memoryUsage();
    await settle(); // the observer's entries arrive after the loop
    if (collections > 0) continue;
    const bytes = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    return bytes / (batches * BATCH);
  }
  return undefined;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const encoders: Record<string, unknown> = {};
for (const name of names) {
  const us = timings.get(name) ?? [];
  const allocated = await allocatedPerSpan(name);
  encoders[name] = {
    usPerSpan: round(median(us), 3),
    usPerSpanRange: [round(Math.min(...us), 3), round(Math.max(...us), 3)],
    wireBytesPerSpan: round(encode(name) / BATCH, 1),
    allocatedBytesPerSpan:
      allocated === undefined ? 'a collection each try' : Math.round(allocated),
  };
}
const result = {
  when: new Date().toISOString(),
  loadAverage: loadavg().map((x) => round(x)),
  spansPerBatch: BATCH,
  repeats,
  encoders,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
