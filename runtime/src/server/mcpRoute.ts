/**
 * `/mcp/<name>` (POST, GET, DELETE: the Streamable HTTP transport's three), behind the same
 * gate as the other routes (client keys, drain), served by mcp/mcpEndpoint.ts as the caller the
 * gate identified (a session is its opener's alone). An undeclared
 * name is a 404 in the Anthropic shape, like any unknown route.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { refusal, sendError } from './errorReplies.ts';
import { passGate } from './requestGate.ts';
import type { RuntimeContext } from './runtimeContext.ts';
import type { GateNeeds } from './requestGate.ts';

/** `/mcp/<name>`: the declared servers and the endpoint that guards them. */
export type McpRouteNeeds = Pick<RuntimeContext, 'mcp' | 'mcpEndpoint' | 'logger'> & GateNeeds;

export function registerMcpRoute(app: FastifyInstance, ctx: McpRouteNeeds): void {
  const route = (request: FastifyRequest, reply: FastifyReply) => handle(ctx, request, reply);
  app.post('/mcp/:server', route);
  app.get('/mcp/:server', route);
  app.delete('/mcp/:server', route);
}

async function handle(
  ctx: McpRouteNeeds,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const admitted = passGate(ctx, request, reply);
  if (admitted === undefined) return;
  const { server } = request.params as { server: string };
  if (ctx.mcp.server(server) === undefined) {
    sendError(
      reply,
      refusal(404, 'not_found_error', `no MCP server "${server}" in spec.mcpServers of this agent`),
    );
    return;
  }
  reply.hijack();
  try {
    await ctx.mcpEndpoint.handle(
      server,
      admitted.caller,
      request.raw,
      reply.raw,
      request.body,
      request.id,
    );
  } catch (err) {
    ctx.logger.error({ reqId: request.id, err: String(err) }, 'MCP request failed');
    if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
    reply.raw.end(
      JSON.stringify({
        jsonrpc: '2.0',
        error: { code: -32603, message: 'internal error' },
        id: null,
      }),
    );
  }
}
