/**
 * The bulkheads the GuardSet builds beside the policy's: not policy settings (no schema field),
 * so declared here, once. The rate limiter and the model bulkhead take the document's
 * settings as they are.
 */
import type { BulkheadOptions } from '../bulkhead.ts';
import type { RateLimitSettings } from '../../../../contract/src/policy/policyDocument.ts';

/** Tool calls share one bulkhead of their own, not the policy's. */
export const TOOL_BULKHEAD: BulkheadOptions = Object.freeze({
  maxConcurrent: 32,
  maxQueue: 64,
  queueTimeoutMs: 10_000,
  mode: 'Enforce',
});

/** A policy without `concurrency`: no bound that any agent reaches, and nothing queues. */
const UNLIMITED_BULKHEAD: BulkheadOptions = Object.freeze({
  maxConcurrent: 10_000,
  maxQueue: 0,
  queueTimeoutMs: 1,
  mode: 'Enforce',
});

/** The model bulkhead: the document's concurrency and mode, or unlimited without one. */
export function bulkheadOptions(s: RateLimitSettings): BulkheadOptions {
  return s.concurrency === undefined ? UNLIMITED_BULKHEAD : { ...s.concurrency, mode: s.mode };
}
