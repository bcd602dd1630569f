/**
 * What a budget ledger tells the cluster of its spend, and what it learns back at startup.
 * The pod report (`spendReports`): each budget's spend in its current period as this process
 * made it, seeds left out — the operator adds processes up, and a seed is spend it already
 * holds. The seeds (`SpendSeeds`): what the agent had spent before this process started, from
 * its status's spend ledger, counted here as this process's own, so a restart never starts
 * from zero; per ClientKey, every key not listed starts from the most such a key may have
 * spent (its floor).
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { calendarPeriod, type CalendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import { Account, accountKey } from './budgetTicket.ts';

/** Picodollars and tokens together. */
export interface SpendAmount {
  readonly picoUsd: bigint;
  readonly tokens: bigint;
}

/** One client key's spend this period (per ClientKey), by fingerprint. */
export interface KeySpendAmount extends SpendAmount {
  readonly key: string;
}

/**
 * What this process has spent of one budget in its current period, seeds left out (the pod
 * report: the operator adds up processes, and a seed is spend it already holds).
 */
export interface BudgetSpendReport {
  readonly budget: string;
  readonly period: CalendarPeriod;
  /** This replica's share of the limits (each key's, per ClientKey); undefined: not limited. */
  readonly limit: { readonly picoUsd: bigint | undefined; readonly tokens: bigint | undefined };
  readonly warnAtPercent: number;
  readonly spent: SpendAmount;
  /** The worst case of calls in flight. */
  readonly held: SpendAmount;
  /** per ClientKey: the largest spenders, largest first. */
  readonly keys?: readonly KeySpendAmount[];
  /** per ClientKey: the most any key not in `keys` has spent. */
  readonly others?: SpendAmount;
}

/**
 * What the agent had already spent of one budget when this process started (its status's
 * spend ledger): the process counts it as its own, so a restart never starts from zero.
 */
export interface BudgetSeed {
  readonly budget: string;
  /** The period it was spent in; a seed of another period is ignored. */
  readonly periodStartMs: number;
  /** per Agent: the agent's spend. */
  readonly whole?: SpendAmount;
  /** per ClientKey: each listed key's spend. */
  readonly keys?: readonly KeySpendAmount[];
  /** per ClientKey: what every key not listed may have spent. */
  readonly others?: SpendAmount;
}

type Dated = SpendAmount & { readonly startMs: number };

/** What this process counts as spent before it began, by account and per ClientKey budget. */
export class SpendSeeds {
  /** Seeded spend by account key. */
  readonly #seeds = new Map<string, Dated>();
  /** Per ClientKey budget: what a key not yet seen starts from. */
  readonly #floors = new Map<string, Dated>();

  /** The seeded part of an account's spend in the period starting at `startMs`. */
  seeded(key: string, startMs: number): SpendAmount | undefined {
    const seed = this.#seeds.get(key);
    return seed?.startMs === startMs ? seed : undefined;
  }

  /** A new account: a ClientKey budget's key first seen after a seed starts from the floor. */
  opened(budget: BudgetSettings, key: string, account: Account): void {
    const floor = this.#floors.get(budget.name);
    if (budget.per !== 'ClientKey' || floor?.startMs !== account.period.startMs) return;
    account.spentPico = floor.picoUsd;
    account.spentTokens = floor.tokens;
    this.#seeds.set(key, floor);
  }

  /**
   * Counts what the agent spent before this process started as spent here: per Agent, the
   * agent's spend; per ClientKey, each listed key's and, for every key not listed, the most it
   * may have spent. A seed for a budget not in force, of another `per`, or of a period other
   * than the current one is ignored; seeding twice keeps the larger.
   */
  apply(
    seeds: readonly BudgetSeed[],
    ledger: {
      readonly budgets: readonly BudgetSettings[];
      readonly timeZone: string;
      readonly now: number;
      readonly accounts: ReadonlyMap<string, Account>;
      account(budget: BudgetSettings, clientKey: string | undefined): Account;
    },
  ): void {
    for (const seed of seeds) {
      const budget = ledger.budgets.find((b) => b.name === seed.budget);
      if (budget === undefined) continue;
      const period = calendarPeriod(ledger.now, budget.period, ledger.timeZone);
      if (period.startMs !== seed.periodStartMs) continue;
      if (budget.per === 'Agent') {
        if (seed.whole !== undefined)
          this.#add(budget, undefined, seed.whole, ledger.account(budget, undefined));
        continue;
      }
      for (const k of seed.keys ?? []) this.#add(budget, k.key, k, ledger.account(budget, k.key));
      if (seed.others !== undefined) {
        this.#floors.set(budget.name, { ...seed.others, startMs: seed.periodStartMs });
        // A copy: `ledger.account` may open accounts while these are walked.
        for (const a of [...ledger.accounts.values()])
          if (
            a.budget === budget.name &&
            a.per === budget.per &&
            !seed.keys?.some((k) => k.key === a.who)
          )
            this.#add(budget, a.who, seed.others, ledger.account(budget, a.who));
      }
    }
  }

  /**
   * Raises an account's spend to `floor` where it is below, the raise counted as seeded (not
   * this process's own spend, which the pod report gives): what the store last said of the
   * whole account, divided among the replicas sharing it (BudgetAccounts.floor).
   */
  atLeast(key: string, account: Account, floor: SpendAmount): void {
    const morePico = floor.picoUsd - account.spentPico;
    const moreTokens = floor.tokens - account.spentTokens;
    if (morePico <= 0n && moreTokens <= 0n) return;
    const had = this.seeded(key, account.period.startMs) ?? { picoUsd: 0n, tokens: 0n };
    const addPico = max(morePico, 0n);
    const addTokens = max(moreTokens, 0n);
    account.spentPico += addPico;
    account.spentTokens += addTokens;
    this.#seeds.set(key, {
      picoUsd: had.picoUsd + addPico,
      tokens: had.tokens + addTokens,
      startMs: account.period.startMs,
    });
  }

  #add(
    budget: BudgetSettings,
    clientKey: string | undefined,
    amount: SpendAmount,
    account: Account,
  ): void {
    const key = accountKey(budget, clientKey);
    const had = this.seeded(key, account.period.startMs) ?? { picoUsd: 0n, tokens: 0n };
    const picoUsd = max(had.picoUsd, amount.picoUsd);
    const tokens = max(had.tokens, amount.tokens);
    account.spentPico += picoUsd - had.picoUsd;
    account.spentTokens += tokens - had.tokens;
    this.#seeds.set(key, { picoUsd, tokens, startMs: account.period.startMs });
  }
}

/**
 * Each budget's spend in its current period as this process made it (seeds left out), the
 * `topKeys` largest client keys of a per ClientKey budget named, for the pod report.
 */
export function spendReports(
  ledger: {
    readonly budgets: readonly BudgetSettings[];
    readonly timeZone: string;
    readonly shareOf: number;
    readonly now: number;
    readonly accounts: ReadonlyMap<string, Account>;
    readonly seeds: SpendSeeds;
  },
  topKeys: number,
): BudgetSpendReport[] {
  return ledger.budgets.map((budget) => {
    const period = calendarPeriod(ledger.now, budget.period, ledger.timeZone);
    let spentPico = 0n;
    let spentTokens = 0n;
    let heldPico = 0n;
    let heldTokens = 0n;
    const keys: KeySpendAmount[] = [];
    for (const [key, a] of ledger.accounts) {
      if (a.budget !== budget.name || a.per !== budget.per) continue;
      if (a.period.startMs !== period.startMs) continue;
      const seeded = ledger.seeds.seeded(key, period.startMs);
      const own = {
        key: a.who,
        picoUsd: a.spentPico - (seeded?.picoUsd ?? 0n),
        tokens: a.spentTokens - (seeded?.tokens ?? 0n),
      };
      spentPico += own.picoUsd;
      spentTokens += own.tokens;
      heldPico += a.reservedPico;
      heldTokens += a.reservedTokens;
      keys.push(own);
    }
    const share = new Account(budget, '', period, ledger.shareOf);
    const report = {
      budget: budget.name,
      period,
      limit: { picoUsd: share.limitPico, tokens: share.limitTokens },
      warnAtPercent: budget.warnAtPercent,
      spent: { picoUsd: spentPico, tokens: spentTokens },
      held: { picoUsd: heldPico, tokens: heldTokens },
    };
    if (budget.per === 'Agent') return report;
    keys.sort(
      (x, y) => cmp(y.picoUsd, x.picoUsd) || cmp(y.tokens, x.tokens) || x.key.localeCompare(y.key),
    );
    const rest = keys.slice(topKeys);
    return {
      ...report,
      keys: keys.slice(0, topKeys),
      others: {
        picoUsd: rest.reduce((m, k) => max(m, k.picoUsd), 0n),
        tokens: rest.reduce((m, k) => max(m, k.tokens), 0n),
      },
    };
  });
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
