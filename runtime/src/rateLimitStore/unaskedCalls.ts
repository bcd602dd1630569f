/**
 * The calls a replica's share let go that the store never counted (docs/guarantees.md R3): in
 * the spell after a stall the limiter does not ask the store, or asks and the store answers
 * undefined without running admit.lua (not connected, fallen back). Each limiter key keeps one
 * count of them (requests and the calls' estimated tokens), charged to the store's limits when
 * it answers again, into debt if it must (settle.lua), as the budget settlements it could not
 * take are sent again then (budgetSettlements.ts). A call whose admission did run, and answered
 * late, is not counted here: its late answer puts it right (lateAdmissionUndo), and counting it
 * here too would charge it twice.
 *
 * Bounded by what the replica's share holds (its burst, its token budgets per minute): a store
 * that had counted the calls as they went would remember no more than one bucket of them, the
 * replicas' shares together. So a long outage, every replica on its share, leaves the store at
 * most one bucket in debt when it returns, not the whole outage's calls; a spell longer than the
 * share takes to refill (a second at burst = rate) is charged for one share's bucket only.
 */
import type {
  StoreAdmitRequest,
  StoreSettlement,
  StoreShareCall,
} from '../guard/rateLimitStore.ts';

/** Limiter keys remembered at most: a policy's key prefix changed during a spell adds one. */
export const UNASKED_KEYS_AT_MOST = 8;

/** One limiter's count: its keys and settle.lua's rates, and the amounts to charge. */
export interface UnaskedCount {
  /** The limiter's request and token keys (settle.lua's KEYS 1-3). */
  readonly keys: readonly string[];
  /** settle.lua's rate per limit, as the store had them when the last call was counted. */
  readonly rates: readonly string[];
  /** What to charge, as a settlement gives back (negative: charged). */
  readonly amounts: StoreSettlement;
  /** The share's capacity per limit when the last call was counted: the count's bound. */
  readonly cap: StoreSettlement;
}

interface Count {
  readonly keys: readonly string[];
  rates: readonly string[];
  cap: StoreSettlement;
  requests: number;
  inputTokens: number;
  outputTokens: number;
}

export class UnaskedCalls {
  readonly #counts = new Map<string, Count>();
  /** Admissions asked whose late answer, when it comes, puts their call right. */
  readonly #late = new WeakSet<StoreAdmitRequest>();

  /** admit.lua runs for `request`, answered after its wait budget (lateAdmissionUndo's). */
  late(request: StoreAdmitRequest): void {
    this.#late.add(request);
  }

  /**
   * A call the share let go, counted under `keys` (one limiter's), unless its own late answer
   * puts it right; up to the share's capacity per limit.
   */
  keep(keys: readonly string[], rates: readonly string[], call: StoreShareCall): void {
    if (call.asked !== undefined && this.#late.has(call.asked)) return;
    const { inputTokens, outputTokens } = call.estimate;
    this.#add(keys, rates, call.share, { requests: 1, inputTokens, outputTokens });
  }

  /** Every count to charge, taken out: settle.lua's amounts are negative (charge more). */
  take(): UnaskedCount[] {
    const out: UnaskedCount[] = [];
    for (const c of this.#counts.values()) {
      if (c.requests === 0 && c.inputTokens === 0 && c.outputTokens === 0) continue;
      out.push({
        keys: c.keys,
        rates: c.rates,
        cap: c.cap,
        amounts: {
          requests: -c.requests,
          inputTokens: -c.inputTokens,
          outputTokens: -c.outputTokens,
        },
      });
    }
    this.#counts.clear();
    return out;
  }

  /**
   * A count taken and not charged: the store did not take it, or failed it (and may have run
   * it: kept all the same, so the store counts more, never less). Charged when it next answers.
   */
  unsent(count: UnaskedCount): void {
    const { amounts } = count;
    this.#add(count.keys, count.rates, count.cap, {
      requests: -amounts.requests,
      inputTokens: -amounts.inputTokens,
      outputTokens: -amounts.outputTokens,
    });
  }

  /** Calls (requests) counted and not yet charged, over every limiter key. */
  get requests(): number {
    let n = 0;
    for (const c of this.#counts.values()) n += c.requests;
    return n;
  }

  #add(
    keys: readonly string[],
    rates: readonly string[],
    cap: StoreSettlement,
    amounts: StoreSettlement,
  ): void {
    const id = keys[0] ?? '';
    let count = this.#counts.get(id);
    if (count === undefined) {
      count = { keys, rates, cap, requests: 0, inputTokens: 0, outputTokens: 0 };
      this.#counts.set(id, count);
      if (this.#counts.size > UNASKED_KEYS_AT_MOST) {
        const oldest = this.#counts.keys().next().value;
        if (oldest !== undefined) this.#counts.delete(oldest);
      }
    }
    count.rates = rates;
    count.cap = cap;
    count.requests = Math.min(cap.requests, count.requests + amounts.requests);
    count.inputTokens = Math.min(cap.inputTokens, count.inputTokens + amounts.inputTokens);
    count.outputTokens = Math.min(cap.outputTokens, count.outputTokens + amounts.outputTokens);
  }
}
