/**
 * A team's own agent, not Breakwater code: a TypeScript service on `@anthropic-ai/sdk` from npm,
 * run by Node's own type stripping.
 *
 * It knows nothing of Breakwater. The SDK reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY from
 * the environment, as it does anywhere; in an AgentDeployment with spec.agent the operator
 * points them at the runtime beside it. At start it makes one streaming call before it serves
 * (the in-cluster suite reads the outcome at /startup), then answers POST /ask {"input": ...}
 * with one streaming model call.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const MODEL = process.env['AGENT_MODEL'] ?? '';
const PORT = Number(process.env['AGENT_PORT'] ?? '8000');
/** How long it serves on after SIGTERM, unready, while endpoints stop sending to it. */
const DRAIN_MS = Number(process.env['AGENT_DRAIN_MS'] ?? '3000');
let draining = false;
// The SDK retries by itself; the runtime beside it already does, under its policy.
const client = new Anthropic({ maxRetries: 0, timeout: 30_000 });

async function ask(prompt: string): Promise<[number, unknown]> {
  try {
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: prompt }],
    });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    const final = await stream.finalMessage();
    return [200, { text, model: final.model, sdk: '@anthropic-ai/sdk' }];
  } catch (err) {
    if (err instanceof Anthropic.APIError) {
      const status = Number(err.status ?? 502);
      return [status, { error: err.name, status }];
    }
    return [502, { error: (err as Error).name, message: (err as Error).message }];
  }
}

/**
 * One MCP tool call through the runtime: the URL the operator injects for spec.mcpServers
 * `notes`, the pod's key as the bearer token, the official SDK's client.
 */
async function lookup(id: string): Promise<[number, unknown]> {
  const url = process.env['BREAKWATER_MCP_NOTES_URL'];
  if (url === undefined) return [404, { error: 'no MCP server named notes' }];
  const client = new Client({ name: 'ts-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${process.env['ANTHROPIC_API_KEY'] ?? ''}` } },
  });
  try {
    await client.connect(transport);
    const result = await client.callTool({ name: 'lookup', arguments: { id } });
    return [200, result];
  } catch (err) {
    return [502, { error: (err as Error).name, message: (err as Error).message }];
  } finally {
    await client.close();
  }
}

const [startupStatus, startupBody] = await ask('the first call, at start');
const startup = { status: startupStatus, body: startupBody };

function send(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
    // While draining, a keep-alive caller reconnects to a pod that stays.
    ...(draining ? { connection: 'close' } : {}),
  });
  res.end(data);
}

async function read(req: IncomingMessage): Promise<{ input?: string }> {
  let raw = '';
  for await (const chunk of req) raw += String(chunk);
  return raw === '' ? {} : (JSON.parse(raw) as { input?: string });
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    send(res, draining ? 503 : 200, { ok: !draining });
  } else if (req.method === 'GET' && req.url === '/startup') {
    send(res, 200, startup);
  } else if (req.method === 'POST' && req.url === '/tool') {
    void read(req)
      .then(async (body) => {
        const [status, answer] = await lookup(body.input ?? '1');
        send(res, status, answer);
      })
      .catch((err: unknown) => {
        send(res, 400, { error: String(err) });
      });
  } else if (req.method === 'POST' && req.url === '/ask') {
    void read(req)
      .then(async (body) => {
        const [status, answer] = await ask(body.input ?? 'hello');
        send(res, status, answer);
      })
      .catch((err: unknown) => {
        send(res, 400, { error: String(err) });
      });
  } else {
    send(res, 404, { error: 'not found' });
  }
}).listen(PORT, '0.0.0.0');

// A well-behaved service's shutdown: serve on, unready, for the drain, then finish the calls in
// flight (each one through the runtime, which the kubelet keeps running until this exits).
process.on('SIGTERM', () => {
  draining = true;
  setTimeout(() => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  }, DRAIN_MS);
});
