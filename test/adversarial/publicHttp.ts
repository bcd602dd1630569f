/**
 * The adversarial suite's one client for the runtime's public HTTP API: a request whose
 * headers go out exactly as written (in order, repeats and empty values kept, latin1 bytes
 * as they are), answered with its status, headers and parsed body. No SDK would send most of
 * these shapes; the suite uses the SDK where a caller would.
 */
import { request as httpRequest } from 'node:http';

/** An MCP client's first request: JSON-RPC `initialize`, as any Streamable HTTP client sends it. */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-03-26',
    capabilities: {},
    clientInfo: { name: 't', version: '1' },
  },
};

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: { error?: { type?: string; message?: string } } & Record<string, unknown>;
  readonly text: string;
}

/** Names and values alternating, as Node's `rawHeaders` holds them. */
export type RawHeaders = readonly string[];

/** One request to `url` + `path`; `body` is sent as JSON (a string as it is). */
export function send(
  url: string,
  method: string,
  path: string,
  headers: RawHeaders,
  body?: unknown,
): Promise<Answer> {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: hostname,
        port,
        method,
        path,
        // A GET on /mcp without a session may open an event stream: nothing here waits on one.
        timeout: 20_000,
        headers: [
          'host',
          `${hostname}:${port}`,
          ...(body === undefined ? [] : ['content-type', 'application/json']),
          'accept',
          'application/json, text/event-stream',
          ...(method === 'GET' || method === 'HEAD'
            ? []
            : ['content-length', String(Buffer.byteLength(text))]),
          ...headers,
        ],
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: Answer['body'] = {};
          try {
            parsed = JSON.parse(raw) as Answer['body'];
          } catch {
            parsed = {};
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text: raw });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
    req.on('error', reject);
    req.end(method === 'GET' || method === 'HEAD' ? undefined : text);
  });
}
