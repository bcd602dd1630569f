/**
 * What a store's claim asks of the ledger (budgetClaim.ts `ClaimHost`): the replica's share
 * when the store does not answer, a mirror over the replica's accounts when the store holds the
 * claim, what the store's answer says of each account, its refusal, and a retry's room.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { PriceBook } from '../../../contract/src/spend/callCost.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { BudgetAccounts } from './budgetAccounts.ts';
import { reservationId, type ClaimHost } from './budgetClaim.ts';
import { renewedLeaseMs } from './budgetLeases.ts';
import { refusedByStore, type ClaimContext, type StoreView } from './budgetStoreAccounts.ts';
import type { BudgetTallies } from './budgetTallies.ts';
import { BudgetTicket, type BudgetCall, type TicketOwner } from './budgetTicket.ts';

/** A claim's mirror ticket holds nothing here: the store holds the worst case. */
const HOLDS_NOTHING = { pico: 0n, tokens: 0n } as const;

/** The ledger's parts a claim reaches. */
export interface ClaimLedger {
  /** The agent's name, for refusals. */
  readonly name: string;
  readonly clock: Clock;
  /** Whom a mirror ticket reports to. */
  readonly owner: TicketOwner;
  readonly accounts: BudgetAccounts;
  readonly tallies: BudgetTallies;
  /** What the store last said of each account. */
  readonly seen: StoreView;
  /** The price book in force (a new policy replaces it). */
  book(): PriceBook;
  /** The share decides, as a call without a store. */
  reserve(call: BudgetCall, quiet: boolean): BudgetTicket | undefined;
}

export function claimHost(ledger: ClaimLedger): ClaimHost<ClaimContext> {
  return {
    reserveLocally: (claim) => ledger.reserve(claim.context.call, claim.context.quiet),
    mirror: (claim) =>
      new BudgetTicket(
        ledger.owner,
        claim.context.call.model,
        claim.context.accounts.map((a, i) =>
          ledger.accounts.keep(
            claim.context.budgets[i] as BudgetSettings,
            a,
            claim.context.call.clientKey,
          ),
        ),
        ledger.book(),
        HOLDS_NOTHING,
        Infinity,
        claim.context.call.planned,
      ),
    saw: (claim, verdict) => {
      claim.context.budgets.forEach((budget, i) => {
        const account = verdict.accounts[i];
        if (account?.state === 'shadowOver') ledger.tallies.refused(budget.name).shadow++;
        const mine = claim.context.accounts[i];
        if (account !== undefined && mine !== undefined)
          ledger.accounts.floor(budget, claim.context.call.clientKey, mine.period, {
            picoUsd: account.spentPico,
            tokens: account.spentTokens,
          });
      });
      ledger.seen.saw(claim, verdict);
    },
    refusal: (claim, verdict) => {
      const error = refusedByStore(ledger.name, claim, verdict, ledger.clock.now());
      if (!claim.context.quiet) ledger.tallies.counted(error);
      return error;
    },
    roomRequest: (claim, more) => ({
      accounts: claim.request.accounts,
      reservationId: reservationId(),
      leaseMs: Math.max(1, renewedLeaseMs(ledger.clock.now(), claim.context.boundAt)),
      worstPico: more.pico,
      worstTokens: more.tokens,
    }),
  };
}
