/**
 * The API server (fastify): routes, body limits, and the one error handler that answers
 * framework-level failures (bad JSON, too large, wrong media type) in the Anthropic shape.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { mapFrameworkError, refusal, sendError } from './errorReplies.ts';
import { registerDebugRoutes } from './debugRoutes.ts';
import { registerInvokeRoute } from './invokeRoute.ts';
import { registerMessagesRoute } from './messagesRoute.ts';
import { registerProbeRoutes } from './probeRoutes.ts';
import type { RuntimeContext } from './runtimeContext.ts';

/** Far above any sane prompt, far below what would hurt the process. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export function buildApiServer(ctx: RuntimeContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: () => `req_${randomUUID()}`,
    return503OnClosing: true,
    forceCloseConnections: false,
    keepAliveTimeout: 65_000,
  });
  app.setErrorHandler(
    (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      const mapping = mapFrameworkError(error);
      if (mapping.status >= 500)
        ctx.logger.error({ reqId: request.id, err: error.message }, 'unhandled error');
      if (mapping.status === 413) {
        // Read (and drop) the rest of the upload so the caller gets the 413, not a reset.
        request.raw.resume();
      }
      return sendError(reply, mapping);
    },
  );
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      refusal(
        404,
        'not_found_error',
        `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
      ),
    ),
  );
  registerProbeRoutes(app, ctx);
  registerMessagesRoute(app, ctx);
  registerInvokeRoute(app, ctx);
  registerDebugRoutes(app, ctx, { requireKey: true });
  return app;
}
