/**
 * What a replica's budgets did with each model call, for the audit log: the worst case held as
 * the call goes (`budget_reserved`), the room a retry holds in the store for the attempts
 * already made (`budget_room_reserved`: a reservation of its own, released when its call
 * settles, charged with it when a killed replica's holds lapse) and what it settled
 * (`budget_settled`), each naming the request, the reservation and the accounts. The records of every replica, beside the
 * provider's own bills, are what a history of the agent's spend is folded from
 * (test/support/spendHistory.ts). Money is picodollars as decimal strings: JSON has no bigint.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { BudgetClaim, reservationId, type BudgetHold, type Decision } from './budgetClaim.ts';
import type { ClaimContext } from './budgetStoreAccounts.ts';
import { BudgetTicket, type Account } from './budgetTicket.ts';

/** One budget account: the budget, whom it counts for, and the period it belongs to. */
export interface BudgetAccountName {
  readonly budget: string;
  readonly per: BudgetSettings['per'];
  /** '' for the whole agent; a key's fingerprint, or `no-key`, per ClientKey. */
  readonly who: string;
  readonly periodStartMs: number;
}

export type BudgetAuditEvent =
  | {
      readonly event: 'budget_reserved';
      readonly requestId?: string | undefined;
      readonly reservation: string;
      readonly model: string;
      readonly accounts: readonly BudgetAccountName[];
      readonly worstPico: string;
    }
  | {
      readonly event: 'budget_room_reserved';
      readonly requestId?: string | undefined;
      /** The room's own reservation in the store. */
      readonly reservation: string;
      /** The call's reservation, whose settlement releases the room. */
      readonly of: string;
      readonly model: string;
      readonly accounts: readonly BudgetAccountName[];
      readonly worstPico: string;
    }
  | {
      readonly event: 'budget_settled';
      readonly requestId?: string | undefined;
      readonly reservation: string;
      readonly model: string;
      /**
       * Where the call's budgets were decided: the store, the replica's share, refused, or never
       * (the call ended before its admission).
       */
      readonly decision: Decision;
      readonly costPico: string;
    };

/** Where the records go (the audit log); nothing is built while it is not enabled. */
export interface BudgetAuditSink {
  readonly enabled: boolean;
  record(event: BudgetAuditEvent): void;
}

/**
 * Records `hold`'s reservation now, and hands back the hold to settle in its place, which
 * records what it settled; `hold` itself while the audit is off.
 */
export function auditedHold(
  hold: BudgetHold,
  model: string,
  requestId: string | undefined,
  sink: BudgetAuditSink,
): BudgetHold {
  if (!sink.enabled) return hold;
  const claim = hold instanceof BudgetClaim ? (hold as BudgetClaim<ClaimContext>) : undefined;
  const ticket = hold instanceof BudgetTicket ? hold : undefined;
  const reservation = claim?.request.reservationId ?? reservationId();
  const accounts = claim?.context.accounts ?? ticket?.accounts ?? [];
  sink.record({
    event: 'budget_reserved',
    requestId,
    reservation,
    model,
    accounts: accounts.map(accountName),
    worstPico: String(claim?.request.worstPico ?? ticket?.worstPico ?? 0n),
  });
  return {
    note: (attempt, backend, usage) => {
      hold.note(attempt, backend, usage);
    },
    unheard: (attempt, backend) => {
      hold.unheard(attempt, backend);
    },
    beforeRetry: () => {
      const asked = claim?.pending;
      hold.beforeRetry();
      // A new room for the attempts made, asked of the store with the retry's admission.
      const room = claim?.pending;
      if (room === undefined || room === asked || room === claim?.request) return;
      sink.record({
        event: 'budget_room_reserved',
        requestId,
        reservation: room.reservationId,
        of: reservation,
        model,
        accounts: accounts.map(accountName),
        worstPico: String(room.worstPico),
      });
    },
    settle: () => {
      // The share decides and refuses too: a claim decided there without a ticket was refused.
      const local = claim?.decision === 'local' && claim.localTicket === undefined;
      const decision = local ? 'refused' : (claim?.decision ?? 'local');
      const cost = hold.settle();
      sink.record({
        event: 'budget_settled',
        requestId,
        reservation,
        model,
        decision,
        costPico: String(cost.pico),
      });
      return cost;
    },
  };
}

function accountName(account: Account): BudgetAccountName {
  return {
    budget: account.budget,
    per: account.per,
    who: account.who,
    periodStartMs: account.period.startMs,
  };
}
