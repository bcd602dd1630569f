/**
 * `per: ClientKey` budgets on an agent that enforces no client keys: a key there names nobody
 * (anyone may send any), so every caller counts as the one open caller and draws on one shared
 * account (access/callerIdentity.ts). Counting each made-up key apart would let a caller reset
 * its budget by changing its key, and leave an account behind for every key it made up. The
 * policy says per key and means it, so each such budget is named once, as its policy loads.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';

/** The RateLimitPolicy fields (`budgets[i].per`) of the per-key budgets `doc` counts as one. */
export function keylessBudgetFields(doc: PolicyDocument, keysEnforced: boolean): string[] {
  if (keysEnforced) return [];
  const budgets = doc.rateLimit.spend?.budgets ?? [];
  return budgets.flatMap((b, i) => (b.per === 'ClientKey' ? [`budgets[${String(i)}].per`] : []));
}

export const KEYLESS_BUDGET_WARNING =
  'per: ClientKey budget on an agent without client keys: every caller counts as one account; set access.clientKeysSecretRef on the AgentDeployment to count each client key apart';
