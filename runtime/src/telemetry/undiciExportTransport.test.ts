import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
