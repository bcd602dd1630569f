import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LightTracer } from './lightSpans.ts';
import { spanSink } from './traceExport.ts';
import { undiciExportTransport } from './undiciExportTransport.ts';

/** What the server answers each request with, in turn; and what it was sent. */
let answers: { status: number; headers?: Record<string, string>; body?: string }[] = [];
const received: { path: string; headers: Record<string, unknown>; body: string }[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const answer = answers.shift() ?? { status: 200 };
      res.writeHead(answer.status, answer.headers).end(answer.body ?? '{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const transport = (url = `${base}/v1/traces`) =>
  undiciExportTransport({
    url,
    headers: () => ({ 'Content-Type': 'application/json', authorization: 'Bearer t' }),
  });

describe('undiciExportTransport', () => {
  it('posts the bytes with the headers to the path, and says success on a 2xx', async () => {
    received.length = 0;
    answers = [{ status: 200, body: '{"partialSuccess":{}}' }];
    const t = transport();
    const result = await t.send(Buffer.from('{"resourceSpans":[]}'), 5_000);
    t.shutdown();
    expect(result.status).toBe('success');
    expect(result.status === 'success' && result.data?.toString()).toBe('{"partialSuccess":{}}');
    expect(received).toHaveLength(1);
    expect(received[0]?.path).toBe('/v1/traces');
    expect(received[0]?.body).toBe('{"resourceSpans":[]}');
    expect(received[0]?.headers['content-type']).toBe('application/json');
    expect(received[0]?.headers.authorization).toBe('Bearer t');
  });

  it('tries a 503 again after its Retry-After, and a 400 not at all', async () => {
    received.length = 0;
    answers = [{ status: 503, headers: { 'retry-after': '0' } }, { status: 200 }];
    const t = transport();
    expect((await t.send(Buffer.from('a'), 5_000)).status).toBe('success');
    expect(received).toHaveLength(2);
    received.length = 0;
    answers = [{ status: 400, body: 'bad' }];
    const failed = await t.send(Buffer.from('b'), 5_000);
    t.shutdown();
    expect(failed.status).toBe('failure');
    expect(received).toHaveLength(1);
  });

  it('says retryable, without waiting past the timeout, when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const t = transport(`http://127.0.0.1:${String(port)}/v1/metrics`);
    // The first backoff (about 1 s) is longer than what is left of 300 ms.
    expect((await t.send(Buffer.from('c'), 300)).status).toBe('retryable');
    t.shutdown();
  });
});

describe("the runtime's trace export", () => {
  it.each([
    // As the runtime sets its export up with no protocol named: http/protobuf.
    { env: {}, type: 'application/x-protobuf' },
    { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, type: 'application/json' },
  ])(
    "goes over undici as $type, not through the SDK's node:http transport",
    async ({ env, type }) => {
      // undici announces each request it makes on this channel, node's http client on the other:
      // an export through the SDK's own transport would show on the second and not the first.
      const viaUndici: string[] = [];
      const viaNodeHttp: string[] = [];
      const onUndici = (message: unknown) => {
        const request = (message as { request: { origin: string; path: string } }).request;
        viaUndici.push(`${request.origin}${request.path}`);
      };
      const onNodeHttp = (message: unknown) => {
        const request = (message as { request: { path: string } }).request;
        viaNodeHttp.push(request.path);
      };
      subscribe('undici:request:create', onUndici);
      subscribe('http.client.request.start', onNodeHttp);
      const saved = process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
      process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = `${base}/v1/traces`;
      received.length = 0;
      answers = [{ status: 200 }];
      try {
        const sink = await spanSink(
          env,
          resourceFromAttributes({ 'service.name': 'transport-test' }),
          'breakwater-runtime',
          () => undefined,
        );
        new LightTracer(sink).startSpan('chat m', { kind: SpanKind.CLIENT }).end();
        await sink.processor.forceFlush();
        await sink.processor.shutdown();
      } finally {
        unsubscribe('undici:request:create', onUndici);
        unsubscribe('http.client.request.start', onNodeHttp);
        if (saved === undefined) delete process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
        else process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = saved;
      }
      expect(received.map((r) => r.path)).toEqual(['/v1/traces']);
      expect(received[0]?.headers['content-type']).toBe(type);
      if (type === 'application/json')
        expect(JSON.parse(received[0]?.body ?? '{}')).toMatchObject({
          resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'chat m' }] }] }],
        });
      // The span's name, in either encoding: its text is the same.
      expect(received[0]?.body).toContain('chat m');
      expect(viaUndici).toEqual([`${base}/v1/traces`]);
      expect(viaNodeHttp).toEqual([]);
    },
  );
});
