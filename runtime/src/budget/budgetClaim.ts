/**
 * A call's budgets when the rate-limit store decides them (RateLimitPolicy `spec.store`): the
 * claim BudgetLedger.claim hands the call instead of a ticket. The rate limiter sends it with
 * the call's first admission, so one script call (admit.lua with budget.lua) decides the limits
 * and every budget together, for every replica at once: the store holds the worst case in each
 * account under a lease, or refuses, or — when it cannot answer within its wait budget — the
 * replica's share decides as it does without a store (BudgetLedger.reserve).
 *
 * A retry asks the store for room for the attempts already made (`beforeRetry`): a reservation
 * of its own, sent with the retry's admission in the same script call, released once the call's
 * cost is charged.
 *
 * Held in the store, the call settles there (settle.lua: its real cost charged, its worst case
 * released); the same cost is also counted in the replica's own accounts, so a replica that
 * falls back later holds its share less what it has spent, as the rate limits do. Decided on
 * the share, the call's real cost still goes to the store once it settles (with nothing there
 * to release): the money was spent all the same, and every replica must count it.
 */
import { randomBytes } from 'node:crypto';
import type { BudgetExhaustedError } from '../guard/errors.ts';
import type { BudgetTicket, SettledCost } from './budgetTicket.ts';
import type {
  StoreBudgetClaim,
  StoreBudgetRequest,
  StoreBudgetSettlement,
  StoreBudgetVerdict,
} from '../guard/rateLimitStore.ts';
import type { TokenUsage } from '../guard/tokenBudget.ts';
import type { BudgetHold } from '../guard/budgetGate.ts';

/** What the guard set settles or releases after a call: a ticket, or a claim. */
export type { BudgetHold };

/** What a claim needs of the ledger that made it; `C` is what the ledger keeps with it. */
export interface ClaimHost<C> {
  /** The replica's share decides (the store did not answer). */
  reserveLocally(claim: BudgetClaim<C>): BudgetTicket | undefined;
  /** A ticket over the replica's accounts holding nothing: settling it counts the spend there. */
  mirror(claim: BudgetClaim<C>): BudgetTicket;
  /** The store's answer: what is left, and Shadow's would-have-refused. */
  saw(claim: BudgetClaim<C>, verdict: StoreBudgetVerdict): void;
  /** The store's refusal as the caller gets it. */
  refusal(claim: BudgetClaim<C>, verdict: StoreBudgetVerdict): BudgetExhaustedError;
  /** Room for a retry asked of the store (`more`): its request, under a reservation of its own. */
  roomRequest(claim: BudgetClaim<C>, more: SettledCost): StoreBudgetRequest;
}

/** Where a settlement of a reservation the store holds goes (the rate limiter's store). */
export interface BudgetSettler {
  settleBudget(settlement: StoreBudgetSettlement): void;
}

/** Unique across replicas: a random prefix per process and a counter. */
const PROCESS_ID = randomBytes(6).toString('hex');
let sequence = 0;

export function reservationId(): string {
  sequence++;
  return `${PROCESS_ID}-${sequence.toString(36)}`;
}

export type Decision = 'pending' | 'store' | 'local' | 'refused';

const NOTHING: SettledCost = Object.freeze({ pico: 0n, tokens: 0n });

export class BudgetClaim<C> implements StoreBudgetClaim, BudgetHold {
  readonly request: StoreBudgetRequest;
  /** The call and its accounts, as the ledger knows them. */
  readonly context: C;
  readonly #host: ClaimHost<C>;
  readonly #settler: BudgetSettler;
  #decision: Decision = 'pending';
  /** Held in the store: the mirror; held locally: the ledger's reservation. */
  #ticket: BudgetTicket | undefined;
  /** Room for retries the store holds, each under a reservation of its own (`beforeRetry`). */
  readonly #rooms: StoreBudgetRequest[] = [];
  /** Room for the next retry, asked of the store with its admission. */
  #room: StoreBudgetRequest | undefined;
  /** What the rooms hold, in the store and (the store not answering) in the mirror. */
  #roomPico = 0n;
  #roomTokens = 0n;

  constructor(request: StoreBudgetRequest, context: C, host: ClaimHost<C>, settler: BudgetSettler) {
    this.request = request;
    this.context = context;
    this.#host = host;
    this.#settler = settler;
  }

  get pending(): StoreBudgetRequest | undefined {
    return this.#decision === 'pending' ? this.request : this.#room;
  }

  /** Every reservation the store holds for the call: its worst case, and room for retries. */
  get inStore(): readonly StoreBudgetRequest[] {
    return this.#decision === 'store' ? [this.request, ...this.#rooms] : [];
  }

  /** Where the call's budgets were decided (tests, /debug). */
  get decision(): Decision {
    return this.#decision;
  }

  /** Decided on the replica's share: the ledger's reservation, until settled. */
  get localTicket(): BudgetTicket | undefined {
    return this.#decision === 'local' ? this.#ticket : undefined;
  }

  held(verdict: StoreBudgetVerdict): void {
    const room = this.#room;
    if (room !== undefined) {
      this.#room = undefined;
      this.#rooms.push(room);
      this.#host.saw(this, verdict);
      return;
    }
    this.#decision = 'store';
    this.#ticket = this.#host.mirror(this);
    this.#host.saw(this, verdict);
  }

  refused(verdict: StoreBudgetVerdict): never {
    // A retry refused: the attempts made so far still settle against what is held.
    if (this.#room !== undefined) this.#unasked(this.#room);
    else this.#decision = 'refused';
    this.#host.saw(this, verdict);
    throw this.#host.refusal(this, verdict);
  }

  holdLocally(): void {
    const room = this.#room;
    if (room === undefined) {
      this.#decision = 'local';
      this.#ticket = this.#host.reserveLocally(this);
      return;
    }
    // The store did not answer for a retry's room: the replica's share holds it, as it would
    // the call's worst case.
    this.#unasked(room);
    this.#ticket?.holdRoom({ pico: room.worstPico, tokens: room.worstTokens });
    this.#roomPico += room.worstPico;
    this.#roomTokens += room.worstTokens;
  }

  beforeRetry(): void {
    const ticket = this.#ticket;
    if (ticket === undefined) return;
    if (this.#decision === 'local') {
      ticket.beforeRetry();
      return;
    }
    const cost = ticket.costSoFar();
    const pico = cost.pico - this.#roomPico;
    const tokens = cost.tokens - this.#roomTokens;
    if (pico <= 0n && tokens <= 0n) return;
    const more = { pico: pico > 0n ? pico : 0n, tokens: tokens > 0n ? tokens : 0n };
    this.#room = this.#host.roomRequest(this, more);
    this.#roomPico += more.pico;
    this.#roomTokens += more.tokens;
  }

  /** A room asked for and not held in the store. */
  #unasked(room: StoreBudgetRequest): void {
    this.#room = undefined;
    this.#roomPico -= room.worstPico;
    this.#roomTokens -= room.worstTokens;
  }

  note(attempt: number, backend: string, usage: TokenUsage): void {
    this.#ticket?.note(attempt, backend, usage);
  }

  unheard(attempt: number, backend: string): void {
    this.#ticket?.unheard(attempt, backend);
  }

  settle(): SettledCost {
    const ticket = this.#ticket;
    if (ticket === undefined) return NOTHING;
    this.#ticket = undefined;
    const cost = ticket.settle();
    const r = this.request;
    this.#settler.settleBudget({
      accounts: r.accounts,
      reservationId: r.reservationId,
      worstPico: r.worstPico,
      worstTokens: r.worstTokens,
      costPico: cost.pico,
      costTokens: cost.tokens,
    });
    // After the cost is charged, so that the store never holds less than the call may cost.
    for (const room of this.#rooms)
      this.#settler.settleBudget({
        accounts: room.accounts,
        reservationId: room.reservationId,
        worstPico: room.worstPico,
        worstTokens: room.worstTokens,
        costPico: 0n,
        costTokens: 0n,
      });
    this.#rooms.length = 0;
    return cost;
  }
}
