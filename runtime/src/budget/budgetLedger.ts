/**
 * Budgets in process (RateLimitPolicy `spec.budgets[]`, the document's `rateLimit.spend`): what
 * an agent, or each of its callers' keys, has spent in the current calendar period, in
 * picodollars and tokens, and what calls in flight may still spend.
 *
 * A call reserves its worst case before it is sent (callCost.ts `worstCaseCost`: every input
 * token at the dearest rate it may be charged, `max_tokens` of output) against every budget
 * that applies — one account per budget (`per: Agent`), or per budget and client key
 * fingerprint (`per: ClientKey`) — and fits only if, for each of them, spent + reserved + worst
 * case ≤ limit: all or nothing. Afterwards the ticket is settled with the real usage (plain or
 * streamed, cache tokens included, priced by `callCost`), and the worst case is released. A
 * reservation holds for a lease (`leaseMs`); one that lapses unsettled (a call that never
 * ends) is charged at its worst case and released, and a settlement that comes after all
 * corrects that charge to what was spent.
 * Lapses are taken when the ledger is next asked (budgetLeases.ts): the ledger owns no timer.
 *
 * Periods are calendar periods in the policy's time zone (calendarPeriod.ts): an account
 * belongs to one period, and the first call after the period ends opens a new one from zero.
 * A call settles into the period it reserved in (budgetAccounts.ts).
 *
 * Without a store, each replica holds its share of every budget: the limit divided by
 * `shareOf`, the agent's ready replicas as the document says (`rateLimit.spend.shareOf`, in
 * every scope: a budget is the whole agent's), rounded down to whole picodollars and tokens.
 * Replicas do not see each other's spend, so the agent's total stays within the budget only
 * while its calls are spread evenly. With a store, `claim` replaces `reserve`: the store
 * decides for the whole agent, exactly (budgetClaim.ts), and the share is the fallback.
 *
 * The ledger coordinates; each concept is a file of its own: the accounts and their periods
 * (budgetAccounts.ts), leases (budgetLeases.ts), whether a worst case fits and a retry's room
 * (budgetRoom.ts), calls waiting for held room (budgetReleases.ts), the Fallback order
 * (budgetFallback.ts), a call's worst case (budgetWorstCase.ts), what a store's claim asks of
 * the ledger (budgetClaimHost.ts). What the ledger reports to the cluster and the spend it starts from
 * after a restart are in budgetSpendRecord.ts; what is left of each budget in
 * budgetRemaining.ts; its refusals and spend by model and backend, for metrics, in
 * budgetTallies.ts.
 *
 * Money is bigint picodollars throughout (decision 0035); nothing passes through a float
 * except the metrics, which read dollars.
 */
import type {
  BudgetSettings,
  ModelPriceSettings,
  SpendSettings,
} from '../../../contract/src/policy/policyDocument.ts';
import {
  priceBook,
  type PlannedCall,
  type PriceBook,
} from '../../../contract/src/spend/callCost.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { BudgetExhaustedError } from '../guard/errors.ts';
import { BudgetTicket, type Account, type BudgetCall, type SettledCost } from './budgetTicket.ts';
import { BudgetAccounts, type AccountView } from './budgetAccounts.ts';
import { cheapestFirst } from './budgetFallback.ts';
import { ReleaseWaiters } from './budgetReleases.ts';
import { limitingAccounts, refuseUnlessFits } from './budgetRoom.ts';
import {
  SpendSeeds,
  spendReports,
  type BudgetSeed,
  type BudgetSpendReport,
} from './budgetSpendRecord.ts';
import {
  BudgetClaim,
  reservationId,
  type BudgetHold,
  type BudgetSettler,
  type ClaimHost,
} from './budgetClaim.ts';
import { claimHost } from './budgetClaimHost.ts';
import { OpenReservations, firstLeaseMs, renewals } from './budgetLeases.ts';
import type { StoreBudgetRenewal } from '../guard/rateLimitStore.ts';
import { remainingOf, type BudgetRemaining } from './budgetRemaining.ts';
import { BudgetTallies, type BudgetRefusals, type SpendByTarget } from './budgetTallies.ts';
import { StoreView, storeAccount, type ClaimContext } from './budgetStoreAccounts.ts';
import { worstCaseOf } from './budgetWorstCase.ts';

export interface BudgetLedgerOptions {
  /** The document's `rateLimit.spend`; absent: no budgets, every call passes uncounted. */
  readonly spend: SpendSettings | undefined;
  /** The agent's own prices (`pricing` of the document), over the list prices. */
  readonly pricing?: readonly ModelPriceSettings[] | undefined;
  /** Replicas that hold a share each; every limit is divided by it. */
  readonly shareOf: number;
  /**
   * The longest a plain call can take (every attempt's timeout and backoff): a reservation's
   * lease is its call's bound, capped at LEASE_CAP_MS and renewed while the call runs
   * (budgetLeases.ts), never past it.
   */
  readonly leaseMs: number;
  /** What a streamed call may take beyond `leaseMs` (the longest stream); absent: nothing. */
  readonly streamMs?: number;
  /** The store's prefix of the team's accounts (`per: Policy`), `rateLimit.store.teamKeyPrefix`. */
  readonly teamKeyPrefix?: string | undefined;
}

export interface BudgetLedgerConfig extends BudgetLedgerOptions {
  /** The agent's name, for messages and metrics. */
  readonly name: string;
  readonly clock: Clock;
}

export type { BudgetCall };
export type { BudgetRefusals, SpendByTarget } from './budgetTallies.ts';
export type { BudgetRemaining } from './budgetRemaining.ts';

export class BudgetLedger {
  readonly name: string;
  readonly #clock: Clock;
  #budgets: readonly BudgetSettings[] = [];
  #timeZone = 'UTC';
  #book: PriceBook = new Map();
  #shareOf = 1;
  #leaseMs = 0;
  #streamMs = 0;
  #teamKeyPrefix: string | undefined;
  /** Seeded spend by account key, and per ClientKey budget what a key not yet seen starts from. */
  readonly #seeds = new SpendSeeds();
  /** The current period's account per budget, `per` and client key. */
  readonly #accounts = new BudgetAccounts(this.#seeds);
  /** Reservations not yet settled or released. */
  readonly #open = new OpenReservations();
  readonly #tallies = new BudgetTallies();
  /** What the store last said of each account, when a store decides. */
  readonly #seen = new StoreView();
  /** Whom a refusal names, and where it is counted (budgetRoom.ts). */
  readonly #room: { readonly agent: string; readonly tallies: BudgetTallies };
  /** What a store's claim asks of the ledger (budgetClaimHost.ts). */
  readonly #claims: ClaimHost<ClaimContext>;
  /** Calls waiting for a reservation to be settled or released (`whenReleased`). */
  readonly #releases = new ReleaseWaiters();

  constructor(config: BudgetLedgerConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#room = { agent: this.name, tallies: this.#tallies };
    this.#claims = claimHost({
      name: this.name,
      clock: this.#clock,
      owner: this,
      accounts: this.#accounts,
      tallies: this.#tallies,
      seen: this.#seen,
      book: () => this.#book,
      reserve: (call, quiet) => this.reserve(call, quiet),
    });
    this.configure(config);
  }

  /** Whether any budget applies (otherwise `reserve` returns undefined at once). */
  get enabled(): boolean {
    return this.#budgets.length > 0;
  }

  /**
   * A new policy. Accounts of a budget that keeps its name, and whose current period starts and
   * ends where it did, keep their spend and reservations, under the new limits; those whose
   * period moved drop, and a budget that is new starts from zero. A budget the policy no longer
   * has keeps its accounts until their period ends, so that putting it back forgets nothing. A budget whose `per` changed counts on accounts
   * of the new kind (each key's spend, or the agent's), and keeps the others for the period: a
   * change and its undo do not forget the period's spend.
   */
  configure(options: BudgetLedgerOptions): void {
    const budgets = options.spend?.budgets ?? [];
    this.#budgets = budgets;
    this.#timeZone = options.spend?.timeZone ?? 'UTC';
    this.#book = priceBook(options.pricing ?? []);
    this.#shareOf = options.shareOf;
    this.#leaseMs = options.leaseMs;
    this.#streamMs = options.streamMs ?? 0;
    this.#teamKeyPrefix = options.teamKeyPrefix;
    this.#accounts.configure(budgets, this.#timeZone, this.#shareOf, this.#clock.now());
    const names = new Set(budgets.map((b) => b.name));
    this.#tallies.retain(names);
    this.#seen.retain(names);
  }

  /**
   * Reserves the call's worst case against every budget, or refuses it: UnpricedModelError
   * for a model without a price under a dollar budget that is not Shadow, BudgetExhaustedError
   * when it does not fit a budget that is not Shadow. Undefined when no budget applies.
   */
  reserve(call: BudgetCall, quiet = false): BudgetTicket | undefined {
    const budgets = this.#budgets;
    if (budgets.length === 0) return undefined;
    const now = this.#clock.now();
    this.#open.lapse(now);
    const { pico, tokens } = this.#worstCase(call);
    const accounts = budgets.map((budget) =>
      this.#accounts.open(budget, call.clientKey, now, false),
    );
    refuseUnlessFits(quiet, this.#room, budgets, accounts, { pico, tokens }, now);
    budgets.forEach((budget, i) => {
      accounts[i] = this.#accounts.keep(budget, accounts[i] as Account, call.clientKey);
    });
    for (const account of accounts) {
      account.reservedPico += pico;
      account.reservedTokens += tokens;
    }
    const boundMs = this.#boundMs(call);
    const ticket = new BudgetTicket(
      this,
      call.model,
      accounts,
      this.#book,
      { pico, tokens },
      now + firstLeaseMs(boundMs),
      call.planned,
    );
    this.#open.add(ticket, now + boundMs);
    return ticket;
  }

  /**
   * Counts a refusal the caller got (budget_rejected_total): busy or exhausted, under the
   * budget it names. A Fallback budget's refusal is counted by what became of the call
   * (`fellBack`).
   */
  counted(error: BudgetExhaustedError): void {
    this.#tallies.counted(error);
  }

  /**
   * Renews the leases of calls still running (GuardSet's timer, every RENEW_EVERY_MS): a
   * reservation held here goes on at once; those the store holds are answered, for one
   * renewal script call for them all. None goes past its call's own bound.
   */
  renew(holds: Iterable<BudgetHold>): StoreBudgetRenewal[] {
    return renewals(this.#open, holds, this.#clock.now());
  }

  /** When a reservation held here lapses (tests, /debug); undefined once it is closed. */
  leaseEndsAt(ticket: BudgetTicket): number | undefined {
    return this.#open.endsAt(ticket);
  }

  /**
   * Resolves when a reservation held here is next settled or released, or when `cancel` is
   * called: a busy budget's call waits for it before asking again.
   */
  whenReleased(): { readonly released: Promise<void>; readonly cancel: () => void } {
    return this.#releases.whenReleased();
  }

  /**
   * With a store (RateLimitPolicy `spec.store`): the call's claim on the store's accounts, which
   * the rate limiter decides with the limits in the call's first admission (budgetClaim.ts);
   * `settler` takes its settlement. UnpricedModelError as `reserve`; undefined when no budget
   * applies.
   */
  claim(
    call: BudgetCall,
    settler: BudgetSettler,
    quiet = false,
  ): BudgetClaim<ClaimContext> | undefined {
    const budgets = this.#budgets;
    if (budgets.length === 0) return undefined;
    const now = this.#clock.now();
    const { pico, tokens } = this.#worstCase(call);
    // Kept when the store holds the claim (`mirror`): a refused call leaves no account behind.
    const accounts = budgets.map((b) => this.#accounts.open(b, call.clientKey, now, false));
    const request = {
      accounts: budgets.map((b, i) =>
        storeAccount(this.name, b, accounts[i] as Account, this.#teamKeyPrefix),
      ),
      reservationId: reservationId(),
      leaseMs: firstLeaseMs(this.#boundMs(call)),
      worstPico: pico,
      worstTokens: tokens,
    };
    const context = { call, budgets, accounts, boundAt: now + this.#boundMs(call), quiet };
    return new BudgetClaim(request, context, this.#claims, settler);
  }

  /**
   * What each model's worst case would be, cheapest first; models without a price are left
   * out (Fallback serves the cheapest fallback that fits).
   */
  cheapestFirst(models: readonly string[], planned: PlannedCall): string[] {
    return cheapestFirst(models, planned, this.#book);
  }

  /**
   * What became of a call that Fallback budgets turned away (`budget`, the first that refused):
   * served by a cheaper model, or refused once none fitted.
   */
  fellBack(budget: string, served: boolean): void {
    this.#tallies.fellBack(budget, served);
  }

  /** Reservations unsettled (tests, /debug). */
  get openReservations(): number {
    this.#open.lapse(this.#clock.now());
    return this.#open.size;
  }

  /** What one budget's account holds now (tests, /debug); undefined before its first call. */
  account(budget: string, clientKey?: string): AccountView | undefined {
    const now = this.#clock.now();
    this.#open.lapse(now);
    const b = this.#budgets.find((x) => x.name === budget);
    return b === undefined ? undefined : this.#accounts.view(b, clientKey, now);
  }

  /** Each budget's remaining dollars and tokens this period, after settled spend. */
  remaining(): BudgetRemaining[] {
    const now = this.#clock.now();
    this.#open.lapse(now);
    return remainingOf({
      budgets: this.#budgets,
      timeZone: this.#timeZone,
      sharedBy: (budget) => this.#accounts.sharedBy(budget, now),
      now,
      accounts: this.#accounts.all,
      seen: this.#seen,
    });
  }

  /**
   * Each budget's spend in its current period as this process made it (seeds left out), the
   * `topKeys` largest client keys of a per ClientKey budget named, for the pod report.
   */
  spendReport(topKeys: number): BudgetSpendReport[] {
    const now = this.#clock.now();
    this.#open.lapse(now);
    return spendReports(
      {
        budgets: this.#budgets,
        timeZone: this.#timeZone,
        shareOf: this.#shareOf,
        now,
        accounts: this.#accounts.all,
        seeds: this.#seeds,
      },
      topKeys,
    );
  }

  /** Counts what the agent spent before this process started as spent here (SpendSeeds). */
  seed(seeds: readonly BudgetSeed[]): void {
    const now = this.#clock.now();
    this.#seeds.apply(seeds, {
      budgets: this.#budgets,
      timeZone: this.#timeZone,
      now,
      accounts: this.#accounts.all,
      account: (budget, clientKey) => this.#accounts.open(budget, clientKey, now, true),
    });
  }

  /** Refusals by budget, since the ledger began. */
  refusals(): ReadonlyMap<string, Readonly<BudgetRefusals>> {
    return this.#tallies.refusals();
  }

  /** Settled spend by model and backend, since the ledger began. */
  spendByTarget(): Iterable<Readonly<SpendByTarget>> {
    return this.#tallies.spendByTarget();
  }

  /** The budgets in force (for metrics). */
  get budgets(): readonly string[] {
    return this.#budgets.map((b) => b.name);
  }

  /**
   * Room for a retry (BudgetTicket.beforeRetry): `more` held for the ticket in `accounts` if it
   * fits every budget they belong to, as a call's worst case does; otherwise the budget's
   * refusal, uncounted (the call counts it once it is final, as a refused call's).
   */
  roomFor(ticket: BudgetTicket, accounts: readonly Account[], more: SettledCost): void {
    const now = this.#clock.now();
    this.#open.lapse(now);
    const { budgets, limited } = limitingAccounts(this.#budgets, accounts);
    refuseUnlessFits(true, this.#room, budgets, limited, more, now);
    ticket.holdMore(more);
  }

  /** A ticket's settled cost at one backend (BudgetTicket). */
  spent(model: string, backend: string, pico: bigint): void {
    this.#tallies.spent(model, backend, pico);
  }

  /** A ticket settled or released (BudgetTicket). */
  closed(ticket: BudgetTicket): void {
    this.#open.closed(ticket);
    this.#releases.released();
  }

  /** The longest `call` can take: its attempts, and a stream's longest stream. */
  #boundMs(call: BudgetCall): number {
    return call.stream === true ? this.#leaseMs + this.#streamMs : this.#leaseMs;
  }

  /** The call's worst case, or its refusal (budgetWorstCase.ts). */
  #worstCase(call: BudgetCall): { pico: bigint; tokens: bigint } {
    return worstCaseOf(call, { budgets: this.#budgets, book: this.#book, tallies: this.#tallies });
  }
}
