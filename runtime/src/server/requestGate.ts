/**
 * What every API request passes before its handler runs: not refusing new requests (past the
 * drain delay), a caller the client keys accept (access/callerIdentity.ts, decided here once
 * for the whole request), a policy in force. Answers the refusal itself and returns undefined
 * when refused.
 */
import type { RouteRequest, RouteReply } from './routeShapes.ts';
import {
  callerIdentity,
  isIdentity,
  type CallerIdentity,
  type IdentityRefusal,
} from '../access/callerIdentity.ts';
import { draining, notReady, sendError, unauthorized } from './errorReplies.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import type { RuntimeContext } from './runtimeContext.ts';

/** What the gate reads: whether the process takes calls, who may call, the policy in force. */
export type GateNeeds = Pick<RuntimeContext, 'lifecycle' | 'clientKeys' | 'metrics' | 'active'>;

/** A request let through: the policy in force and who is calling. */
export interface Admitted {
  readonly active: ActivePolicy;
  readonly caller: CallerIdentity;
}

export function passGate(
  ctx: GateNeeds,
  request: RouteRequest,
  reply: RouteReply,
): Admitted | undefined {
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
  const caller = identify(ctx, request, reply);
  if (caller === undefined) return undefined;
  const active = ctx.active();
  if (active === undefined) {
    sendError(reply, notReady());
    return undefined;
  }
  return { active, caller };
}

/** The request's caller; undefined when refused (401 answered, the failure counted). */
export function identify(
  ctx: Pick<GateNeeds, 'clientKeys' | 'metrics'>,
  request: RouteRequest,
  reply: RouteReply,
  refused: (answer: IdentityRefusal) => string = (answer) => answer.message,
): CallerIdentity | undefined {
  const answer = callerIdentity(ctx.clientKeys, request.raw);
  if (isIdentity(answer)) return answer;
  ctx.metrics.authFailures.inc({ reason: answer.reason });
  sendError(reply, unauthorized(refused(answer)));
  return undefined;
}
