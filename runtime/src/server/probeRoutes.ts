/**
 * Probes. `/health/ready` fails only while no policy is loaded or from SIGTERM on — never
 * because a provider breaker is open: that would take every replica out of the Service at
 * the moment callers most need a fast, well-formed 503 or a fallback model.
 */
import type { FastifyInstance } from 'fastify';
import type { RuntimeContext } from './runtimeContext.ts';

export function registerProbeRoutes(
  app: FastifyInstance,
  ctx: Pick<RuntimeContext, 'health' | 'lifecycle' | 'active'>,
): void {
  app.get('/health', (_request, reply) => {
    const checks = ctx.health();
    const ok = Object.values(checks).every((c) => c.ok);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'starting', checks });
  });
  app.get('/health/live', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/health/ready', (_request, reply) => {
    if (ctx.lifecycle.draining) return reply.code(503).send({ status: 'draining' });
    if (ctx.active() === undefined) return reply.code(503).send({ status: 'no policy loaded' });
    return reply.send({ status: 'ready', policyHash: ctx.active()?.hash });
  });
}
