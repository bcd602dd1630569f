/**
 * The model router the router tests drive: one backend named `default` (its client, wire or
 * models given by the test), round-robin, the stream limits of the test's policy document.
 * Not shipped: only *.test.ts files import it.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { GuardSet } from '../guard/guardSet/guardSet.ts';
import type { Backend, BackendPool } from './backendPool.ts';
import { ModelRouter } from './modelRouter.ts';
import { streamLimits, type AttemptObserver } from './providerAttempt.ts';

/** An Anthropic backend named `default`, weight 1, priority 0, nothing in flight, and `parts`. */
export function testBackend(parts: Record<string, unknown>): Backend {
  // A stand-in SDK client given as an object is what the backend's client, made on first
  // use (anthropicSdk.ts), resolves to.
  const { client } = parts;
  return {
    name: 'default',
    type: 'Anthropic',
    weight: 1,
    priority: 0,
    inFlight: 0,
    ...parts,
    ...(client !== null && typeof client === 'object'
      ? { client: () => Promise.resolve(client) }
      : {}),
  } as unknown as Backend;
}

/** A router over `backend` alone, guarded by `guard`. */
export function routerOver(
  backend: Backend,
  guard: GuardSet<Backend>,
  doc: PolicyDocument,
  clock: Clock,
  observe: AttemptObserver = () => undefined,
): ModelRouter {
  return new ModelRouter({
    pool: { backends: [backend] } as unknown as BackendPool,
    guard: () => guard,
    clock,
    strategy: () => 'RoundRobin',
    streamLimits: () => streamLimits(doc),
    observe,
  });
}
