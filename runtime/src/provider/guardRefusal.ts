import { CircuitBreaker } from '../guard/circuitBreaker.ts';
import { Guard } from '../guard/guard.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../contract/src/time/clock.ts';
import { breakerOptions } from './guardOptions.ts';
import { GuardSet } from './guardSet.ts';

/**
 * Whether the guard accepts a policy's settings: built once, thrown away. The policy
 * validator and the guard check ranges separately; a document only goes live if both agree.
 */
export function guardRefusal(doc: PolicyDocument, clock: Clock): string | undefined {
  try {
    new GuardSet({ doc, clock });
    new CircuitBreaker({ name: 'check', clock, options: breakerOptions(doc.circuitBreaker) });
    new Guard({
      name: 'check',
      clock,
      targets: [{ name: 'check', breaker: new CircuitBreaker({ name: 'check', clock }) }],
      timeout: { timeoutMs: doc.timeoutMs },
      retry: {
        maxAttempts: doc.retry.maxAttempts,
        initialDelayMs: doc.retry.initialDelayMs,
        maxDelayMs: doc.retry.maxDelayMs,
      },
    });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
