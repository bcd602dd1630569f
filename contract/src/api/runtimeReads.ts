/**
 * The parts of a resource's status the runtime reads — part of the contract like the policy
 * document: the operator must keep writing them in this shape. Derived from the generated
 * types with `Pick`, so a schema change that drops or renames one of these fields fails to
 * compile here, not in a replica at start-up.
 */
import type { AgentDeploymentStatus } from './v1alpha1/agentdeployment.ts';

/** Fails to compile when the schema's agent status loses `breaker`. */
type BreakerStatus = NonNullable<AgentDeploymentStatus['breaker']>;
/** Fails to compile when the schema's agent status loses `spend`. */
type SpendStatus = NonNullable<AgentDeploymentStatus['spend']>;

/**
 * What a replica reads of its own AgentDeployment when it starts: the provider breakers its
 * siblings hold open (`status.breaker.openBreakers`, kept by the operator from their pod
 * reports), so that it starts them Open for the rest of the open time; and the spend ledger
 * (`status.spend.ledger`, spendLedgerTotals.ts reads it), so that without a store its budgets
 * start from what the agent has spent this period rather than from zero.
 */
export interface AgentStatusRuntimeReads {
  readonly status?: {
    readonly breaker?: Pick<BreakerStatus, 'openBreakers'>;
    readonly spend?: Pick<SpendStatus, 'ledger'>;
  };
}
