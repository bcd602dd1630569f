/** The audit trail of a policy taking effect, and of an on-call override changing with it. */
import type { AppliedPolicy } from '../policy/policyStore.ts';
import type { AuditLog } from './auditLog.ts';

export function recordPolicyChange(
  audit: AuditLog,
  next: AppliedPolicy,
  previous: AppliedPolicy | undefined,
): void {
  const { doc } = next;
  audit.record({
    event: 'policy_change',
    hash: next.hash,
    previousHash: previous?.hash,
    source: next.source,
    generation: doc.agent.generation,
  });
  const before = previous?.doc.circuitBreaker.override;
  const after = doc.circuitBreaker.override;
  if (before !== undefined && (before.state !== after.state || before.reason !== after.reason)) {
    audit.record({
      event: 'override_change',
      breakerPolicy: doc.circuitBreaker.policyName,
      state: after.state,
      previousState: before.state,
      reason: after.reason,
    });
  }
}
