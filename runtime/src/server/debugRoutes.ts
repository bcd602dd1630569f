/**
 * `/debug/*`: what the runtime believes right now. Served on the API port (behind the client
 * key when access control is on) and on the metrics port. Secrets never appear: the policy
 * names the environment variables that hold keys, never their values.
 */
import type { FastifyInstance } from 'fastify';
import { sendError, unauthorized } from './errorReplies.ts';
import type { RuntimeContext } from './runtimeContext.ts';

export function debugDocuments(ctx: RuntimeContext): Record<string, () => unknown> {
  return {
    '/debug/breakers': () => ({ breakers: ctx.active()?.guard.breakers() ?? {} }),
    '/debug/ratelimiter': () => ({ rateLimiter: ctx.active()?.guard.rateLimiter() ?? {} }),
    '/debug/policy': () => ({
      ...ctx.store.status(),
      clientKeys: { enforced: ctx.clientKeys.enforced, count: ctx.clientKeys.count },
      cache: { entries: ctx.cache.size },
    }),
    '/debug/stats': () => ctx.stats.snapshot(),
  };
}

export function registerDebugRoutes(
  app: FastifyInstance,
  ctx: RuntimeContext,
  { requireKey }: { requireKey: boolean },
): void {
  for (const [path, build] of Object.entries(debugDocuments(ctx))) {
    app.get(path, (request, reply) => {
      if (requireKey && !ctx.clientKeys.check(request.headers).ok) {
        return sendError(reply, unauthorized('a client key is required for /debug'));
      }
      return reply
        .header('content-type', 'application/json')
        .send(JSON.stringify(build(), null, 2));
    });
  }
}
