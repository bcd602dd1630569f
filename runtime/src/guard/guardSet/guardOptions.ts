/**
 * The settings the GuardSet hands its guards, read from the policy: the model guards' retry,
 * and the bulkheads it builds beside the policy's (the tool calls' own, one per MCP server, and
 * the model bulkhead of a policy without `concurrency`). The bulkheads' numbers are not policy
 * settings except where the document has one; what they share with a setting comes from the
 * schema (generated/documentDefaults.ts and documentBounds.ts).
 */
import type { ConcurrencySettings } from '../bulkhead.ts';
import type { RetryOptions } from '../retry.ts';
import { DOCUMENT_BOUNDS } from '../../../../contract/src/policy/generated/documentBounds.ts';
import { DOCUMENT_DEFAULTS } from '../../../../contract/src/policy/generated/documentDefaults.ts';
import type {
  McpServerSettings,
  PolicyDocument,
  RateLimitSettings,
} from '../../../../contract/src/policy/policyDocument.ts';

const CONCURRENCY_DEFAULTS = DOCUMENT_DEFAULTS.rateLimit.concurrency;

/** The tool calls' concurrency: they share one bulkhead of their own, not the policy's. */
export const TOOL_CONCURRENCY: ConcurrencySettings = Object.freeze({
  replicaMaxConcurrent: 32,
  replicaMaxQueue: 64,
  queueTimeoutMs: CONCURRENCY_DEFAULTS.queueTimeoutMs,
  mode: 'Enforce',
});

/** A policy without `concurrency`: the most any policy may allow, and nothing queues. */
const UNLIMITED_CONCURRENCY: ConcurrencySettings = Object.freeze({
  replicaMaxConcurrent: DOCUMENT_BOUNDS.rateLimit.concurrency.replicaMaxConcurrent.maximum,
  replicaMaxQueue: 0,
  queueTimeoutMs: 1,
  mode: 'Enforce',
});

/** The model bulkhead's concurrency: the document's and its mode, or unlimited without one. */
export function modelConcurrency(s: RateLimitSettings): ConcurrencySettings {
  return s.concurrency === undefined ? UNLIMITED_CONCURRENCY : { ...s.concurrency, mode: s.mode };
}

/** Callers that may wait for one server's slots: the server's limit is the bound that matters. */
const QUEUE_PER_SERVER = 1_000;

/** One MCP server's concurrency: its own limit, waiting for a slot within the call's timeout. */
export function mcpServerConcurrency(
  server: McpServerSettings,
  timeoutMs: number,
): ConcurrencySettings {
  return {
    replicaMaxConcurrent: server.maxConcurrent,
    replicaMaxQueue: QUEUE_PER_SERVER,
    queueTimeoutMs: timeoutMs,
    mode: 'Enforce',
  };
}

/** A model guard's retry: the policy's, honouring Retry-After as its adaptive pacing says. */
export function retryOptions(doc: PolicyDocument): RetryOptions {
  return {
    maxAttempts: doc.retry.maxAttempts,
    initialDelayMs: doc.retry.initialDelayMs,
    maxDelayMs: doc.retry.maxDelayMs,
    honorRetryAfter: doc.rateLimit.adaptive.honorRetryAfter,
  };
}
