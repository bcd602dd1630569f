/**
 * How `POST /v1/messages` serves calls under a policy, decided once when the policy is applied
 * (agentRuntime.ts keeps it on the ActivePolicy, which a reload replaces whole) rather than per
 * call. A policy with none of the optional features the long way layers on a call (a response
 * cache, an audit log, a prompt-injection screen, budgets) and one backend is served on the lean
 * path (leanMessages.ts): from the checked body straight to the model's guard and one attempt.
 * Any other policy, and `BREAKWATER_LEAN_ROUTE=off`, has every call go the long way
 * (messagesRoute.ts). Per call the lean path still looks at what varies from call to call: a
 * durable run named by the call, the model it asks for, the breaker refusing.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { Guard } from '../guard/guard.ts';
import type { RuntimeGuard } from '../provider/backendPool.ts';

/** The environment variable that turns the lean path off (`off`): the escape hatch. */
export const LEAN_ROUTE_ENV = 'BREAKWATER_LEAN_ROUTE';

/** Why a policy's calls all go the long way (shown on `/debug/policy`). */
export type LongWayReason =
  | `${typeof LEAN_ROUTE_ENV}=off`
  | 'response cache'
  | 'audit log'
  | 'prompt-injection screen'
  | 'budgets'
  | 'more than one backend';

export type MessagesPlan = LeanPlan | { readonly way: 'long'; readonly because: LongWayReason };

/** The lean path's plan: the one backend's name and each model's guard, once looked up. */
export class LeanPlan {
  readonly way = 'lean';
  /** Calls served the lean way under this plan, so since the policy was applied (`/debug/policy`). */
  served = 0;
  /** Requests taken ahead of fastify under this plan (frontMessages.ts; `/debug/policy`). */
  front = 0;
  readonly #guard: RuntimeGuard;
  readonly #backend: string;
  readonly #primary: string;
  #primaryGuard: Guard | undefined;
  /** Models other than the policy's own that callers asked for by name. */
  readonly #others = new Map<string, Guard>();

  constructor(guard: RuntimeGuard, backend: string, primary: string) {
    this.#guard = guard;
    this.#backend = backend;
    this.#primary = primary;
  }

  /**
   * `model`'s guard on the one backend (the caller has checked that the backend serves it),
   * or undefined if the guard set has none without budgets. Made on first use, not when the
   * plan is: a breaker appears (in metrics and reports) when a call first needs it, as on the
   * long way.
   */
  guardOf(model: string): Guard | undefined {
    if (model === this.#primary) return (this.#primaryGuard ??= this.#plain(model));
    let guard = this.#others.get(model);
    if (guard === undefined) {
      guard = this.#plain(model);
      if (guard !== undefined) this.#others.set(model, guard);
    }
    return guard;
  }

  #plain(model: string): Guard | undefined {
    return this.#guard.plainGuard?.(this.#backend, model);
  }
}

/**
 * The plan for `doc`, with `guard` already reconfigured to it. `leanRoute` is the value of
 * BREAKWATER_LEAN_ROUTE (`off` turns the lean path off).
 */
export function planMessages(
  doc: PolicyDocument,
  guard: RuntimeGuard,
  leanRoute: string | undefined,
): MessagesPlan {
  const because = longWayReason(doc, guard, leanRoute);
  if (because !== undefined) return { way: 'long', because };
  return new LeanPlan(guard, doc.backends[0]?.name ?? '', doc.model.name);
}

function longWayReason(
  doc: PolicyDocument,
  guard: RuntimeGuard,
  leanRoute: string | undefined,
): LongWayReason | undefined {
  if (leanRoute === 'off') return `${LEAN_ROUTE_ENV}=off`;
  if (doc.cache.enabled) return 'response cache';
  if (doc.audit.enabled) return 'audit log';
  if (doc.security.promptInjection !== 'Off') return 'prompt-injection screen';
  if (guard.plainGuard === undefined || guard.budgeted !== false) return 'budgets';
  if (doc.backends.length !== 1) return 'more than one backend';
  return undefined;
}

/** What `/debug/policy` says of the plan. */
export function planReport(
  plan: MessagesPlan,
):
  | { way: 'lean'; leanCalls: number; frontRequests: number }
  | { way: 'long'; because: LongWayReason } {
  return plan.way === 'lean'
    ? { way: 'lean', leanCalls: plan.served, frontRequests: plan.front }
    : { way: 'long', because: plan.because };
}
