/**
 * What every API request passes before its handler runs: not refusing new requests (past the
 * drain delay), a valid client key, a policy in force. Answers the refusal itself and
 * returns undefined when refused.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { draining, notReady, sendError, unauthorized } from './errorReplies.ts';
import type { ActivePolicy, RuntimeContext } from './runtimeContext.ts';

/** What the gate reads: whether the process takes calls, who may call, the policy in force. */
export type GateNeeds = Pick<RuntimeContext, 'lifecycle' | 'clientKeys' | 'metrics' | 'active'>;
import { isLoopbackAddress, type Peer } from '../access/clientKeys.ts';

/** The caller as access control sees it: the per-pod key is for loopback peers only. */
export function requestPeer(request: FastifyRequest): Peer {
  return { loopback: isLoopbackAddress(request.socket.remoteAddress) };
}

export function passGate(
  ctx: GateNeeds,
  request: FastifyRequest,
  reply: FastifyReply,
): ActivePolicy | undefined {
  if (ctx.lifecycle.draining) {
    // Served (until the drain delay ends), but the caller's next request opens a new
    // connection, which the Service or the ingress sends to a pod that is staying. On the raw
    // response, so that the hijacked replies of the Messages route carry it too.
    reply.raw.setHeader('connection', 'close');
    if (ctx.lifecycle.refusing) {
      sendError(reply, draining());
      return undefined;
    }
  }
  const access = ctx.clientKeys.check(request.headers, requestPeer(request));
  if (!access.ok) {
    ctx.metrics.authFailures.inc({ reason: access.reason });
    sendError(
      reply,
      unauthorized(
        access.reason === 'missing'
          ? 'missing client key: send it as x-api-key or Authorization: Bearer'
          : 'invalid client key',
      ),
    );
    return undefined;
  }
  const active = ctx.active();
  if (active === undefined) {
    sendError(reply, notReady());
    return undefined;
  }
  return active;
}

/** The presented client key, for the audit fingerprint only. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const key = request.headers['x-api-key'];
  if (typeof key === 'string') return key;
  const auth = request.headers.authorization;
  return typeof auth === 'string' ? auth.replace(/^Bearer\s+/i, '') : undefined;
}
