/**
 * A ledger's accounts: one per budget (`per: Agent`), or per budget and client key fingerprint
 * (`per: ClientKey`), each belonging to one calendar period in the policy's time zone
 * (calendarPeriod.ts). The first call after a period ends opens a new account from zero (or
 * from a seed, SpendSeeds); a call settles into the period it reserved in.
 *
 * An account a call opens is kept only once the call is let through (`keep`): a refused call
 * leaves no account behind. A new policy keeps the accounts whose period did not move (under
 * the new limits), and those of a budget it no longer has until their period ends.
 *
 * Each account holds its budget divided among the most replicas the budget was shared by in
 * its period (guarantees B2): when replicas go (scale-in, a replica not ready), the others'
 * shares do not grow until the next period, since what the gone replicas spent is not seen
 * here. Scale-out shrinks the shares at once.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { calendarPeriod, type CalendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import type { SpendSeeds } from './budgetSpendRecord.ts';
import { Account, accountKey, whoOf } from './budgetTicket.ts';

/** What one budget's account holds now (tests, /debug). */
export interface AccountView {
  spentPico: bigint;
  spentTokens: bigint;
  reservedPico: bigint;
  reservedTokens: bigint;
  period: CalendarPeriod;
}

export class BudgetAccounts {
  /** The current period's account per budget, `per` and client key. */
  readonly #accounts = new Map<string, Account>();
  readonly #seeds: SpendSeeds;
  #timeZone = 'UTC';
  #shareOf = 1;
  /** Per budget, the most replicas it was shared among in its period starting at `startMs`. */
  readonly #peaks = new Map<string, { startMs: number; shareOf: number }>();

  constructor(seeds: SpendSeeds) {
    this.#seeds = seeds;
  }

  /** Every account kept, by key. */
  get all(): ReadonlyMap<string, Account> {
    return this.#accounts;
  }

  /**
   * A new policy (BudgetLedger.configure): accounts of a budget that keeps its name and whose
   * period did not move go on under the new limits; a budget no longer in force keeps its
   * accounts until their period ends.
   */
  configure(
    budgets: readonly BudgetSettings[],
    timeZone: string,
    shareOf: number,
    now: number,
  ): void {
    this.#timeZone = timeZone;
    this.#shareOf = shareOf;
    for (const budget of budgets)
      this.#sharedBy(budget, calendarPeriod(now, budget.period, timeZone));
    const byName = new Map(budgets.map((b) => [b.name, b]));
    for (const [key, account] of this.#accounts) {
      const budget = byName.get(account.budget);
      if (budget === undefined) {
        // A budget that left the policy keeps its period's spend, unused: put back (an edit
        // undone, a policy switched away and back) it goes on from there, as an edit would.
        if (now >= account.period.endMs) this.#accounts.delete(key);
        continue;
      }
      const period = calendarPeriod(now, budget.period, this.#timeZone);
      if (period.startMs !== account.period.startMs || period.endMs !== account.period.endMs) {
        this.#accounts.delete(key);
        continue;
      }
      account.limit(budget, this.#sharedBy(budget, account.period));
    }
  }

  /**
   * The replicas `budget` is divided among now (what its accounts' limits are divided by):
   * the agent's, or for a team's budget every agent's on the policy; the most this period.
   */
  sharedBy(budget: BudgetSettings, now: number): number {
    return this.#sharedBy(budget, calendarPeriod(now, budget.period, this.#timeZone));
  }

  /**
   * The replicas `budget` is divided among in `period`: the most since the period began. A
   * team's budget (`per: Policy`) is divided among every agent's replicas on the policy
   * (`teamShareOf`), or none (0) when the document gives no such count.
   */
  #sharedBy(budget: BudgetSettings, period: CalendarPeriod): number {
    const now = budget.per === 'Policy' ? (budget.teamShareOf ?? 0) : this.#shareOf;
    const peak = this.#peaks.get(budget.name);
    if (peak === undefined || peak.startMs !== period.startMs) {
      this.#peaks.set(budget.name, { startMs: period.startMs, shareOf: now });
      return now;
    }
    peak.shareOf = Math.max(peak.shareOf, now);
    return peak.shareOf;
  }

  /**
   * The account a call draws on in this period. A new one (the first call, a new period) is
   * kept only when `keep` says so; otherwise by `keep`, once the call is let through.
   */
  open(budget: BudgetSettings, clientKey: string | undefined, now: number, keep: boolean): Account {
    const key = accountKey(budget, clientKey);
    const found = this.#accounts.get(key);
    if (found !== undefined && now < found.period.endMs && now >= found.period.startMs)
      return found;
    // A new period (or the first call): from zero.
    const period = calendarPeriod(now, budget.period, this.#timeZone);
    const account = new Account(
      budget,
      whoOf(budget, clientKey),
      period,
      this.#sharedBy(budget, period),
    );
    this.#seeds.opened(budget, key, account);
    if (keep) this.#accounts.set(key, account);
    return account;
  }

  /**
   * `account` kept for a call let through; when another call kept one for the same budget,
   * key and period meanwhile, that one.
   */
  keep(budget: BudgetSettings, account: Account, clientKey: string | undefined): Account {
    const key = accountKey(budget, clientKey);
    const kept = this.#accounts.get(key);
    if (kept === account || kept?.period.startMs === account.period.startMs) return kept;
    this.#accounts.set(key, account);
    return account;
  }

  /**
   * What the store said `budget`'s whole account (a key's, per ClientKey) has spent in
   * `period`, divided among the replicas sharing it, counted as spent on this replica's share
   * at least: should the store go, the replicas then spend on their shares no more than is
   * left of the whole, however recently each started (a replica restarted with no status to
   * seed it from began its share at zero, and each restart between outages let the team spend
   * its limit again: an outside attack on B11). The raise counts as seeded, not as this
   * replica's own spend.
   */
  floor(
    budget: BudgetSettings,
    clientKey: string | undefined,
    period: CalendarPeriod,
    spent: { readonly picoUsd: bigint; readonly tokens: bigint },
  ): void {
    const key = accountKey(budget, clientKey);
    const kept = this.#accounts.get(key);
    // A refused call keeps no account of its client key (one per key would grow without
    // bound); the agent's or the team's one account is kept, refused or not.
    const account =
      kept?.period.startMs === period.startMs
        ? kept
        : budget.per === 'ClientKey'
          ? undefined
          : this.open(budget, clientKey, period.startMs, true);
    // settings-check: sharedBy 0 is Account.limit's mark of a team with no count of its replicas.
    if (account?.period.startMs !== period.startMs || account.sharedBy < 1) return;
    const share = BigInt(account.sharedBy);
    this.#seeds.atLeast(key, account, {
      picoUsd: spent.picoUsd / share,
      tokens: spent.tokens / share,
    });
  }

  /** What `budget`'s account (a key's, per ClientKey) holds at `now`; undefined before its first call. */
  view(
    budget: BudgetSettings,
    clientKey: string | undefined,
    now: number,
  ): AccountView | undefined {
    const a = this.#accounts.get(accountKey(budget, clientKey));
    if (a === undefined || now >= a.period.endMs || now < a.period.startMs) return undefined;
    return {
      spentPico: a.spentPico,
      spentTokens: a.spentTokens,
      reservedPico: a.reservedPico,
      reservedTokens: a.reservedTokens,
      period: a.period,
    };
  }
}
