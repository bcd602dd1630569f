/**
 * One reservation against a budget and the accounts it draws from: what BudgetLedger hands a
 * call before it is sent, and what the call settles (its real cost) or releases (its worst
 * case) afterwards. Exact bigint picodollars, as in the ledger.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { CalendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import { moneyFromMicros } from '../../../contract/src/spend/money.ts';
import {
  callCost,
  searchResultTokens,
  worstCaseCost,
  type CallCost,
  type MessagesUsage,
  type PlannedCall,
  type PriceBook,
} from '../../../contract/src/spend/callCost.ts';
import type { StoreBudgetAccount } from '../guard/rateLimitStore.ts';
import type { TokenUsage } from '../guard/tokenBudget.ts';
import type { BudgetedCall } from '../guard/budgetGate.ts';

/** One call to reserve for. */
export type BudgetCall = BudgetedCall;

/**
 * The account of a `per: Agent` budget, and of a `per: Policy` one (the team's, which this
 * agent's calls share with the other agents'); client keys are `key-…` fingerprints.
 */
const WHOLE_AGENT = '';
/** A `per: ClientKey` budget's account for callers that present no key (an open agent). */
export const NO_CLIENT_KEY = 'no-key';

/** Whose account a call draws from: the whole agent's, or its client key's. */
export function whoOf(budget: BudgetSettings, clientKey: string | undefined): string {
  if (budget.per !== 'ClientKey') return WHOLE_AGENT;
  return clientKey === undefined || clientKey === '' ? NO_CLIENT_KEY : clientKey;
}

/** Each `per: Agent` budget's one account key, made once: every call looks it up. */
const WHOLE_AGENT_KEYS = new WeakMap<BudgetSettings, string>();

/** An account's key in a ledger: the budget, its `per`, and whose. */
export function accountKey(budget: BudgetSettings, clientKey: string | undefined): string {
  if (budget.per === 'ClientKey')
    return `${budget.name}\n${budget.per}\n${whoOf(budget, clientKey)}`;
  let key = WHOLE_AGENT_KEYS.get(budget);
  if (key === undefined) {
    key = `${budget.name}\n${budget.per}\n${WHOLE_AGENT}`;
    WHOLE_AGENT_KEYS.set(budget, key);
  }
  return key;
}

/** What a ticket tells the ledger that issued it: a settled cost, and that it is closed. */
export interface TicketOwner {
  spent(model: string, backend: string, pico: bigint): void;
  closed(ticket: BudgetTicket): void;
  /**
   * Holds `more` for `ticket` if it fits every budget its accounts belong to (`ticket.holdMore`),
   * or throws the budget's refusal (BudgetExhaustedError), holding nothing.
   */
  roomFor(ticket: BudgetTicket, accounts: readonly Account[], more: SettledCost): void;
}

/** One budget in one period, for the whole agent or one client key. */
export class Account {
  readonly budget: string;
  /** Whom the budget counts for: the whole agent, or each client key. */
  readonly per: BudgetSettings['per'];
  readonly who: string;
  readonly period: CalendarPeriod;
  limitPico: bigint | undefined;
  limitTokens: bigint | undefined;
  spentPico = 0n;
  spentTokens = 0n;
  reservedPico = 0n;
  reservedTokens = 0n;
  /** How many replicas its limits are divided among (BudgetAccounts: the most this period). */
  sharedBy = 1;
  /**
   * This account as the store keeps it (budgetStoreAccounts.ts `storeAccount`), made at its
   * first claim and kept until the limits change: its key and limits are the same for every
   * call in the period.
   */
  inStore: StoreBudgetAccount | undefined;

  constructor(budget: BudgetSettings, who: string, period: CalendarPeriod, shareOf: number) {
    this.budget = budget.name;
    this.per = budget.per;
    this.who = who;
    this.period = period;
    this.limitPico = undefined;
    this.limitTokens = undefined;
    this.limit(budget, shareOf);
  }

  /**
   * This replica's share of the budget's limits. A team's budget (`per: Policy`) is divided
   * among every agent's replicas on the policy; given no such count (`shareOf` 0) it has no
   * share: only the store counts every agent's calls together, so while it cannot decide,
   * calls under the budget are refused (`sharedBy` 0, limits 0) rather than each agent
   * spending all of it.
   */
  limit(budget: BudgetSettings, shareOf: number): void {
    this.inStore = undefined;
    // settings-check: `shareOf` is the operator's count of the team's replicas, not a bound on `per`.
    if (budget.per === 'Policy' && shareOf < 1) {
      this.sharedBy = 0;
      this.limitPico = budget.limitMicroUsd === undefined ? undefined : 0n;
      this.limitTokens = budget.limitTokens === undefined ? undefined : 0n;
      return;
    }
    this.sharedBy = Math.max(1, Math.floor(shareOf));
    const share = BigInt(this.sharedBy);
    this.limitPico =
      budget.limitMicroUsd === undefined
        ? undefined
        : moneyFromMicros(budget.limitMicroUsd) / share;
    this.limitTokens =
      budget.limitTokens === undefined ? undefined : BigInt(budget.limitTokens) / share;
  }

  fits(pico: bigint, tokens: bigint): boolean {
    return (
      (this.limitPico === undefined ||
        this.spentPico + this.reservedPico + pico <= this.limitPico) &&
      (this.limitTokens === undefined ||
        this.spentTokens + this.reservedTokens + tokens <= this.limitTokens)
    );
  }
}

/** What a settled call cost, in picodollars and tokens. */
export interface SettledCost {
  readonly pico: bigint;
  readonly tokens: bigint;
}

const NOTHING: SettledCost = Object.freeze({ pico: 0n, tokens: 0n });

/** An attempt given up on before the provider said what it used: its worst case. */
const UNHEARD: TokenUsage = Object.freeze({ inputTokens: 0, outputTokens: 0, unknown: 'all' });

/** A reserved call: note each attempt's usage, then settle once (in `finally`). */
export class BudgetTicket {
  readonly model: string;
  readonly worstPico: bigint;
  readonly worstTokens: bigint;
  readonly expiresAt: number;
  readonly #ledger: TicketOwner;
  readonly #accounts: readonly Account[];
  readonly #book: PriceBook;
  /** The call as reserved: what an attempt whose usage is not known settles at. */
  readonly #planned: PlannedCall | undefined;
  /**
   * Each attempt's latest usage and backend: a stream reports usage more than once. A list, not
   * a map: a call makes one attempt, rarely a few.
   */
  readonly #attempts: { readonly attempt: number; backend: string; usage: TokenUsage }[] = [];
  /**
   * Held beyond the worst case: what the attempts already made may cost, so that the next one
   * still has its whole worst case (`beforeRetry`).
   */
  #morePico = 0n;
  #moreTokens = 0n;
  #released = false;
  #settled = false;
  /**
   * What its lease lapsing charged (`lapse`): the provider may have billed the call in full, so
   * it counts at its worst case until a settlement, if one still comes, says what it cost.
   */
  #lapsed: SettledCost | undefined;

  constructor(
    ledger: TicketOwner,
    model: string,
    accounts: readonly Account[],
    book: PriceBook,
    worst: { pico: bigint; tokens: bigint },
    expiresAt: number,
    planned?: PlannedCall,
  ) {
    this.#planned = planned;
    this.#ledger = ledger;
    this.model = model;
    this.#accounts = accounts;
    this.#book = book;
    this.worstPico = worst.pico;
    this.worstTokens = worst.tokens;
    this.expiresAt = expiresAt;
  }

  /** What attempt `attempt` (at `backend`) has used so far; a later report replaces it. */
  note(attempt: number, backend: string, usage: TokenUsage): void {
    if (this.#settled) return;
    const seen = this.#attempts.find((a) => a.attempt === attempt);
    if (seen === undefined) this.#attempts.push({ attempt, backend, usage });
    else {
      seen.backend = backend;
      seen.usage = usage;
    }
  }

  /**
   * Attempt `attempt` was given up on before any usage (its deadline passed while it ran): it
   * settles at the worst case unless a usage is noted for it after all.
   */
  unheard(attempt: number, backend: string): void {
    if (this.#settled || this.#attempts.some((a) => a.attempt === attempt)) return;
    this.#attempts.push({ attempt, backend, usage: UNHEARD });
  }

  /**
   * Charges every attempt's real usage and releases the worst case; after its lease lapsed,
   * corrects what the lapse charged to that usage instead. Answers what the call cost (nothing
   * the second time).
   */
  settle(): SettledCost {
    if (this.#settled) return NOTHING;
    this.#settled = true;
    const { pico, tokens } = this.#cost((backend, attemptPico) => {
      this.#ledger.spent(this.model, backend, attemptPico);
    });
    const charged = this.#lapsed ?? NOTHING;
    this.#lapsed = undefined;
    this.#charge(pico - charged.pico, tokens - charged.tokens);
    this.release();
    return { pico, tokens };
  }

  /**
   * Its lease ended unsettled (the replica's call hung, or its settlement is lost): the worst
   * case and the room it held are charged, never less than the provider can have billed, and
   * released. A settlement that still comes corrects the charge to the call's cost.
   */
  lapse(): void {
    if (this.#released || this.#settled) return;
    const charged = {
      pico: this.worstPico + this.#morePico,
      tokens: this.worstTokens + this.#moreTokens,
    };
    this.#lapsed = charged;
    this.#charge(charged.pico, charged.tokens);
    this.release();
  }

  #charge(pico: bigint, tokens: bigint): void {
    if (pico === 0n && tokens === 0n) return;
    for (const account of this.#accounts) {
      account.spentPico += pico;
      account.spentTokens += tokens;
    }
  }

  /** What the attempts noted so far would settle at, charging nothing. */
  costSoFar(): SettledCost {
    return this.#cost(undefined);
  }

  /**
   * Before another attempt: the attempts made so far may cost up to `costSoFar`, and the next
   * one up to the worst case, so the ticket holds the difference too, or the retry is refused
   * (the budget's BudgetExhaustedError). An attempt that cost nothing (an error status) holds
   * nothing more.
   */
  beforeRetry(): void {
    if (this.#settled || this.#released) return;
    const cost = this.costSoFar();
    const more = { pico: cost.pico - this.#morePico, tokens: cost.tokens - this.#moreTokens };
    if (more.pico <= 0n && more.tokens <= 0n) return;
    this.holdRoom({
      pico: more.pico > 0n ? more.pico : 0n,
      tokens: more.tokens > 0n ? more.tokens : 0n,
    });
  }

  /** Holds `more` beside the worst case if it fits (the ledger decides), or throws its refusal. */
  holdRoom(more: SettledCost): void {
    this.#ledger.roomFor(this, this.#accounts, more);
  }

  /** Holds `more` in every account, released with the worst case (the ledger, once it fits). */
  holdMore(more: SettledCost): void {
    this.#morePico += more.pico;
    this.#moreTokens += more.tokens;
    for (const account of this.#accounts) {
      account.reservedPico += more.pico;
      account.reservedTokens += more.tokens;
    }
  }

  /** Every noted attempt's cost, summed; `charged` hears each priced one. */
  #cost(charged: ((backend: string, pico: bigint) => void) | undefined): SettledCost {
    let pico = 0n;
    let tokens = 0n;
    for (const { backend, usage } of this.#attempts) {
      const cost = this.#attemptCost(usage);
      tokens += BigInt(cost.tokens);
      if (!cost.priced) continue;
      pico += cost.picoUsd;
      charged?.(backend, cost.picoUsd);
    }
    return { pico, tokens };
  }

  /**
   * What an attempt cost: its usage priced, or where the provider's count is not known, no
   * less than it can have billed: the call's worst case (`all`), or the most uses of its
   * server tools and their results (`fees`, a stream cut before its final usage).
   */
  #attemptCost(usage: TokenUsage): CallCost {
    const planned = this.#planned;
    if (usage.unknown === 'all' && planned !== undefined) {
      const worst = worstCaseCost(this.model, planned, this.#book);
      // A call whose cost has no bound went under Shadow: what it reported is all there is.
      if (worst.priced) return worst;
    }
    if ((usage.unknown !== 'fees' && usage.unknown !== 'output') || planned === undefined)
      return callCost(this.model, messagesUsage(usage), this.#book);
    // A stream cut before its final usage: its output counted from the bytes read, which
    // can pass what the provider bills; it never bills more than `max_tokens` of output. One
    // that relayed thinking (`output`) may have been billed thinking it never relayed
    // (summarised): its output at `max_tokens`, which thinking counts toward. Its searches
    // are unknown too: each at its fee, and their results at the policy's figure as input
    // beyond what `message_start` counted (`searchResultTokens`).
    const searches = planned.additions?.serverToolUses?.['web_search'];
    return callCost(
      this.model,
      messagesUsage({
        ...usage,
        inputTokens: usage.inputTokens + searchResultTokens(planned.additions),
        outputTokens:
          usage.unknown === 'output'
            ? planned.maxTokens
            : Math.min(usage.outputTokens, planned.maxTokens),
        ...(searches === undefined
          ? {}
          : { webSearchRequests: Math.max(usage.webSearchRequests ?? 0, searches) }),
      }),
      this.#book,
    );
  }

  /** Gives the worst case back, once (a settlement, or the lease lapsing: `lapse`). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const pico = this.worstPico + this.#morePico;
    const tokens = this.worstTokens + this.#moreTokens;
    // A claim's mirror holds nothing here (the store holds its worst case).
    if (pico !== 0n || tokens !== 0n) {
      for (const account of this.#accounts) {
        account.reservedPico -= pico;
        account.reservedTokens -= tokens;
      }
    }
    this.#ledger.closed(this);
  }

  get released(): boolean {
    return this.#released;
  }

  /** The accounts it draws from (the audit's budget records). */
  get accounts(): readonly Account[] {
    return this.#accounts;
  }
}

function messagesUsage(usage: TokenUsage): MessagesUsage {
  const hour = usage.cacheWrite1hTokens;
  return {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    cache_creation_input_tokens: usage.cacheWriteTokens ?? 0,
    cache_read_input_tokens: usage.cacheReadTokens ?? 0,
    cache_creation: hour === undefined ? null : { ephemeral_1h_input_tokens: hour },
    server_tool_use:
      usage.webSearchRequests === undefined
        ? null
        : { web_search_requests: usage.webSearchRequests },
  };
}
