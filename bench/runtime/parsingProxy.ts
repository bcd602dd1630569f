/**
 * The least a guarding proxy must do, as `bench/runtime.ts --only hotpath --floor` runs it
 * beside the bare proxy and the runtime: read the request's JSON (its model and `max_tokens`
 * decide admission and price), forward the bytes over an undici pool (the runtime's client)
 * with the provider's key in place of the caller's, and read the answer's usage (a plain
 * answer's JSON parsed; each stream chunk searched for its usage). No routing framework, no
 * guard, no metrics. Its CPU per call beside the bare proxy's tells what that necessary work
 * costs; the runtime's beside it, what the runtime's own work costs.
 *
 *   node bench/runtime/parsingProxy.ts --target 8787
 *   {"msg":"listening","port":41234}
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: { target: { type: 'string' } } });
const target = Number(values.target);
if (!Number.isInteger(target) || target <= 0) {
  process.stderr.write('usage: parsingProxy.ts --target PORT\n');
  process.exit(2);
}

const pool = new Pool(`http://127.0.0.1:${String(target)}`, { connections: 64 });
/** Output tokens read off the answers: kept so that no engine can drop the reading as dead. */
let outputTokens = 0;

function forward(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
  const body = JSON.parse(raw.toString()) as { model?: unknown; max_tokens?: unknown };
  if (typeof body.model !== 'string' || typeof body.max_tokens !== 'number') {
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"type":"error"}');
    return;
  }
  pool.request(
    {
      path: req.url ?? '/',
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'anthropic-version': String(req.headers['anthropic-version'] ?? '2023-06-01'),
        'x-api-key': 'sk-bench',
      },
      body: raw,
    },
    (err, answer) => {
      if (err !== null) {
        res.writeHead(502).end();
        return;
      }
      const type = String(answer.headers['content-type'] ?? 'application/json');
      res.writeHead(answer.statusCode, { 'content-type': type });
      if (type.startsWith('text/event-stream')) {
        answer.body.on('data', (chunk: Buffer) => {
          if (chunk.indexOf('"usage"') >= 0) outputTokens++;
          res.write(chunk);
        });
        answer.body.on('end', () => res.end());
        return;
      }
      const chunks: Buffer[] = [];
      answer.body.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.body.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const parsed = JSON.parse(text) as { usage?: { output_tokens?: number } };
        outputTokens += parsed.usage?.output_tokens ?? 0;
        res.end(text);
      });
    },
  );
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    forward(req, res, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`parsingProxy: ${String(outputTokens)} usage readings\n`);
  server.close();
  server.closeAllConnections();
  void pool.destroy();
});
