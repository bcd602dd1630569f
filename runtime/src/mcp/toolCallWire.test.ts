import { expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Pool } from 'undici';
import { callToolOnWire, McpHttpError, type WireSession } from './toolCallWire.ts';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

/** Resolves once the server has read `count` requests in all (with those it read so far). */
type Received = (count: number) => Promise<Record<string, unknown>[]>;

/** How long a request the client sent may take to reach the loopback server: only a failure waits it out. */
const ARRIVAL_BOUND_MS = 5_000;

/** A loopback server whose answers the test writes, piece by piece when it likes. */
async function withServer(
  handler: Handler,
  run: (session: WireSession, seen: Record<string, unknown>[], received: Received) => Promise<void>,
): Promise<void> {
  const seen: Record<string, unknown>[] = [];
  const waiting = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      seen.push({ ...body, headers: req.headers });
      handler(req, body, res);
      for (const check of waiting) check();
    });
  });
  const received: Received = (count) =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (seen.length < count) return;
        settle();
        resolve(seen);
      };
      const bound = setTimeout(() => {
        settle();
        const methods = seen.map((s) => String(s['method']));
        reject(
          new Error(
            `the server read ${String(seen.length)} of ${String(count)} requests within ` +
              `${String(ARRIVAL_BOUND_MS)} ms: ${JSON.stringify(methods)}`,
          ),
        );
      }, ARRIVAL_BOUND_MS);
      const settle = (): void => {
        clearTimeout(bound);
        waiting.delete(check);
      };
      waiting.add(check);
      check();
    });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dispatcher = new Pool(origin);
  try {
    await run(
      {
        dispatcher,
        origin,
        path: '/mcp?x=1',
        sessionId: 'session-1',
        protocolVersion: '2025-06-18',
        headers: { authorization: 'Bearer t' },
      },
      seen,
      received,
    );
  } finally {
    await dispatcher.destroy();
    server.closeAllConnections();
    server.close();
  }
}

const result = { content: [{ type: 'text', text: 'héllo ✓' }], structuredContent: { n: 1 } };

const never = () => new AbortController().signal;

test('sends one tools/call with the session headers and reads a JSON answer', async () => {
  await withServer(
    (_req, body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result }));
    },
    async (session, seen) => {
      expect(await callToolOnWire(session, 'echo', { text: 'a' }, never())).toEqual(result);
      const [sent] = seen;
      expect(sent).toMatchObject({
        jsonrpc: '2.0',
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'a' } },
        headers: {
          'mcp-session-id': 'session-1',
          'mcp-protocol-version': '2025-06-18',
          authorization: 'Bearer t',
          accept: 'application/json, text/event-stream',
        },
      });
    },
  );
});

test('finds the response in an event stream written a few bytes at a time, after notifications', async () => {
  await withServer(
    (_req, body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const stream =
        `event: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\r\n\r\n` +
        `: a comment\n\n` +
        `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: body.id, result })}\n\n`;
      const bytes = Buffer.from(stream);
      let at = 0;
      const step = () => {
        if (at >= bytes.length) {
          res.end();
          return;
        }
        // Three bytes at a time splits the two multi-byte characters of the text, too.
        res.write(bytes.subarray(at, at + 3));
        at += 3;
        setImmediate(step);
      };
      step();
    },
    async (session) => {
      expect(await callToolOnWire(session, 'echo', {}, never())).toEqual(result);
    },
  );
});

test("a JSON-RPC error is the SDK's McpError; an HTTP status is McpHttpError", async () => {
  await withServer(
    (_req, body, res) => {
      if ((body.params as { name: string }).name === 'gone') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('session not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -32602, message: 'no' } }),
      );
    },
    async (session) => {
      const failed = callToolOnWire(session, 'bad', {}, never());
      await expect(failed).rejects.toBeInstanceOf(McpError);
      await expect(failed).rejects.toMatchObject({ code: -32602 });
      const gone = callToolOnWire(session, 'gone', {}, never());
      await expect(gone).rejects.toBeInstanceOf(McpHttpError);
      await expect(gone).rejects.toMatchObject({ status: 404 });
    },
  );
});

test('a result without content, or a stream that ends without the response, is refused', async () => {
  await withServer(
    (_req, body, res) => {
      if ((body.params as { name: string }).name === 'empty') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: {} }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"jsonrpc":"2.0","method":"notifications/message"}\n\n');
    },
    async (session) => {
      await expect(callToolOnWire(session, 'empty', {}, never())).rejects.toThrow(
        'without a content array',
      );
      await expect(callToolOnWire(session, 'cut', {}, never())).rejects.toThrow(
        'ended its event stream without a response',
      );
    },
  );
});

test('an aborted call rejects with the reason and tells the server it is cancelled', async () => {
  await withServer(
    (_req, body, res) => {
      if (body.method === 'notifications/cancelled') {
        res.writeHead(202);
        res.end();
      }
      // tools/call: never answered.
    },
    async (session, _seen, received) => {
      const controller = new AbortController();
      const call = callToolOnWire(session, 'slow', {}, controller.signal);
      await received(1);
      const reason = new Error('timed out');
      controller.abort(reason);
      await expect(call).rejects.toBe(reason);
      const seen = await received(2);
      expect(seen[1]).toMatchObject({
        method: 'notifications/cancelled',
        params: { requestId: seen[0]?.id, reason: 'timed out' },
      });
    },
  );
});
