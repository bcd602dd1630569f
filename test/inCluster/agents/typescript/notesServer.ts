/**
 * A team's MCP server, not Breakwater code: one tool, `lookup`, over Streamable HTTP with the
 * official SDK, stateless (a server and a transport per request, as the SDK's examples do). The
 * in-cluster suite runs it from the TypeScript agent's image as a Deployment of its own, and
 * declares it in the agent's spec.mcpServers, so the agent calls it through the runtime.
 */
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const PORT = Number(process.env['NOTES_PORT'] ?? '8001');

function notesServer(): McpServer {
  const server = new McpServer({ name: 'notes', version: '1.0.0' });
  server.registerTool(
    'lookup',
    { description: 'Looks up a note by its id.', inputSchema: { id: z.string() } },
    ({ id }) => ({ content: [{ type: 'text', text: `note ${id}` }] }),
  );
  return server;
}

createServer((req, res) => {
  if (req.url !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  const server = notesServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  void server
    .connect(transport)
    .then(() => transport.handleRequest(req, res))
    .catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
}).listen(PORT, '0.0.0.0');
process.on('SIGTERM', () => {
  process.exit(0);
});
