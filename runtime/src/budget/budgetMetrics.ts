/**
 * A budget ledger's metrics: what the agent's settled calls cost, by model and backend; what is
 * left of each budget, its limit, warning ratio and reset time (for alerts and forecasts); and
 * the calls each budget refused. Read at scrape time like every guard metric (scrapedMetrics.ts).
 */
import type { Counter, Gauge } from 'prom-client';
import type { BudgetLedger } from './budgetLedger.ts';
import { moneyToUsdNumber } from '../../../contract/src/spend/money.ts';
import { Delta, type ScrapedMetrics } from '../guard/scrapedMetrics.ts';

export class BudgetMetrics {
  readonly #scraped: ScrapedMetrics;
  readonly budgetSpend: Counter<'name' | 'model' | 'backend'>;
  readonly budgetRemainingUsd: Gauge<'name' | 'budget'>;
  readonly budgetRemainingTokens: Gauge<'name' | 'budget'>;
  readonly budgetRejected: Counter<'name' | 'budget' | 'reason'>;
  readonly budgetLimitUsd: Gauge<'name' | 'budget'>;
  readonly budgetLimitTokens: Gauge<'name' | 'budget'>;
  readonly budgetWarnRatio: Gauge<'name' | 'budget'>;
  readonly budgetResetsAt: Gauge<'name' | 'budget'>;

  constructor(scraped: ScrapedMetrics) {
    this.#scraped = scraped;
    this.budgetSpend = scraped.counter(
      'budget_spend_usd_total',
      "Dollars the agent's settled model calls cost on this replica, priced from the price table or spec.pricing, by model and backend.",
      ['name', 'model', 'backend'],
    );
    this.budgetRemainingUsd = scraped.gauge(
      'budget_remaining_usd',
      'Dollars left of a budget this period on this replica (its share without a store; per ClientKey, the key with least left); negative once Shadow lets spend pass the limit.',
      ['name', 'budget'],
    );
    this.budgetRemainingTokens = scraped.gauge(
      'budget_remaining_tokens',
      'Tokens left of a budget this period on this replica (its share without a store; per ClientKey, the key with least left).',
      ['name', 'budget'],
    );
    this.budgetRejected = scraped.counter(
      'budget_rejected_total',
      'Model calls a budget turned away, by reason: exhausted (refused; Fallback: once no cheaper model fitted), busy (refused: calls in flight held what it needed past its waitForHeld), unpriced (refused: no price), unbounded (refused: nothing bounds its cost), fallback (served by a cheaper fallback model instead), shadow (would have refused).',
      ['name', 'budget', 'reason'],
    );
    this.budgetLimitUsd = scraped.gauge(
      'budget_limit_usd',
      "A dollar budget's limit as budget_remaining_usd counts it: the whole agent's when a store decides, this replica's share without one (per ClientKey, each key's); budget_remaining_usd / budget_limit_usd is the part left.",
      ['name', 'budget'],
    );
    this.budgetLimitTokens = scraped.gauge(
      'budget_limit_tokens',
      "A token budget's limit as budget_remaining_tokens counts it: the whole agent's when a store decides, this replica's share without one (per ClientKey, each key's); budget_remaining_tokens / budget_limit_tokens is the part left.",
      ['name', 'budget'],
    );
    this.budgetWarnRatio = scraped.gauge(
      'budget_warn_ratio',
      "A budget's warnAtPercent as a ratio (0.8 for 80), for alerts on the share spent.",
      ['name', 'budget'],
    );
    this.budgetResetsAt = scraped.gauge(
      'budget_resets_at_seconds',
      "When a budget's current period ends and its spend starts from zero (Unix seconds), for forecasts.",
      ['name', 'budget'],
    );
  }

  /**
   * Exports a budget ledger's spend, what is left of each budget and its refusals; returns the
   * unbind function. Budgets come and go with the policy: their series go with them.
   */
  bind(ledger: BudgetLedger): () => void {
    const name = ledger.name;
    type SpendLabels = { name: string; model: string; backend: string };
    const spent = new Map<string, { labels: SpendLabels; last: bigint }>();
    const spendLabels: SpendLabels[] = [];
    this.#scraped.on(this.budgetSpend, ledger, () => {
      for (const target of ledger.spendByTarget()) {
        const key = `${target.model}\n${target.backend}`;
        let entry = spent.get(key);
        if (entry === undefined) {
          const labels = { name, model: target.model, backend: target.backend };
          spendLabels.push(labels);
          entry = { labels, last: 0n };
          spent.set(key, entry);
        }
        if (target.picoUsd === entry.last) continue;
        // The exact total in dollars, as the nearest float: adding each call's cost as a float
        // would show 0.029611500000000006 where the money is 0.0296115.
        this.budgetSpend.remove(entry.labels);
        this.budgetSpend.inc(entry.labels, moneyToUsdNumber(target.picoUsd));
        entry.last = target.picoUsd;
      }
    });
    // Each gauge: a budget's value in its unit (undefined: the budget does not limit it).
    type Values = () => { budget: string; value: number | undefined }[];
    const dollars = (pico: bigint | undefined): number | undefined =>
      pico === undefined ? undefined : moneyToUsdNumber(pico);
    const left: [Gauge<'name' | 'budget'>, Values][] = [
      [
        this.budgetRemainingUsd,
        () => ledger.remaining().map((r) => ({ budget: r.budget, value: dollars(r.picoUsd) })),
      ],
      [
        this.budgetRemainingTokens,
        () =>
          ledger.remaining().map((r) => ({
            budget: r.budget,
            value: r.tokens === undefined ? undefined : Number(r.tokens),
          })),
      ],
      [
        this.budgetLimitUsd,
        () => ledger.remaining().map((r) => ({ budget: r.budget, value: dollars(r.limitPico) })),
      ],
      [
        this.budgetLimitTokens,
        () =>
          ledger.remaining().map((r) => ({
            budget: r.budget,
            value: r.limitTokens === undefined ? undefined : Number(r.limitTokens),
          })),
      ],
      [
        this.budgetWarnRatio,
        () =>
          ledger.spendReport(0).map((r) => ({ budget: r.budget, value: r.warnAtPercent / 100 })),
      ],
      [
        this.budgetResetsAt,
        () =>
          ledger.spendReport(0).map((r) => ({ budget: r.budget, value: r.period.endMs / 1000 })),
      ],
    ];
    const shown = left.map(([gauge, values]) => {
      let current = new Set<string>();
      this.#scraped.on(gauge, ledger, () => {
        const next = new Set<string>();
        for (const { budget, value } of values()) {
          if (value === undefined) continue;
          next.add(budget);
          gauge.set({ name, budget }, value);
        }
        for (const budget of current) if (!next.has(budget)) gauge.remove({ name, budget });
        current = next;
      });
      return () => {
        for (const budget of current) gauge.remove({ name, budget });
      };
    });
    const reasons = ['exhausted', 'busy', 'unpriced', 'unbounded', 'fallback', 'shadow'] as const;
    const rejected = new Map<string, Delta[]>();
    this.#scraped.on(this.budgetRejected, ledger, () => {
      const budgets = new Set(ledger.budgets);
      for (const budget of budgets) {
        if (!rejected.has(budget))
          rejected.set(
            budget,
            reasons.map(
              (reason) => new Delta(this.budgetRejected.labels({ name, budget, reason })),
            ),
          );
      }
      for (const [budget, deltas] of rejected) {
        if (!budgets.has(budget)) {
          for (const reason of reasons) this.budgetRejected.remove({ name, budget, reason });
          rejected.delete(budget);
          continue;
        }
        const r = ledger.refusals().get(budget);
        deltas.forEach((d, i) => {
          d.push(r === undefined ? 0 : r[reasons[i] ?? 'exhausted']);
        });
      }
    });
    return this.#scraped.unbinder(ledger, () => {
      for (const labels of spendLabels) this.budgetSpend.remove(labels);
      for (const removeShown of shown) removeShown();
      for (const budget of rejected.keys())
        for (const reason of reasons) this.budgetRejected.remove({ name, budget, reason });
    });
  }
}
