/**
 * The agent's budgets as the guard sees them (guard/budgetGate.ts): the ledger
 * (budgetLedger.ts) holds a call's worst case — reserved here, or claimed of the store when
 * the limiter shares one — the running calls (budgetCalls.ts) renew their leases and let a
 * busy budget's call wait for held room, and the audit log records each reservation and
 * settlement (budgetAudit.ts) when it is on. The GuardSet makes one per agent and reconfigures
 * it with each policy.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { PlannedCall } from '../../../contract/src/spend/callCost.ts';
import { parseDuration } from '../../../contract/src/api/duration.ts';
import { AGENT_DEPLOYMENT_LIMITS } from '../../../contract/src/api/specLimits.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { BudgetedCall, BudgetGate, HeldBudgets } from '../guard/budgetGate.ts';
import type { RateLimiter } from '../guard/rateLimiter.ts';
import { auditedHold, type BudgetAuditSink } from './budgetAudit.ts';
import { BudgetCalls } from './budgetCalls.ts';
import type { BudgetClaim } from './budgetClaim.ts';
import { BudgetLedger, type BudgetLedgerOptions } from './budgetLedger.ts';
import type { ClaimContext } from './budgetStoreAccounts.ts';
import { TeamAccountReads } from './teamAccountReads.ts';
import { budgetReportOf } from './spendAtStart.ts';
import {
  MAX_REPORTED_KEYS,
  type BudgetReport,
} from '../../../contract/src/reporting/budgetReport.ts';
import type { CommandSender } from '../rateLimitStore/luaScripts.ts';

export interface LedgerGateConfig {
  readonly doc: PolicyDocument;
  readonly clock: Clock;
  /** The agent's rate limiter: with a store, a call's budgets are decided with its limits. */
  readonly limiter: RateLimiter;
  /** Where each call's reservation and settlement are recorded (the audit log), when enabled. */
  readonly audit?: BudgetAuditSink | undefined;
  /** The store's connection, for the team budgets' reads (teamAccountReads.ts). */
  readonly connection?: () => CommandSender | undefined;
  /** A team budget's read changed what the pod reports. */
  readonly onTeamRead?: () => void;
}

export class LedgerGate implements BudgetGate {
  /** The budgets' ledger (metrics, the pod report, the spend seeded at start; tests, /debug). */
  readonly ledger: BudgetLedger;
  /** Budgeted calls running: their leases renewed, a busy budget's calls waiting. */
  readonly #calls: BudgetCalls;
  /** The team budgets' accounts as the store holds them (the pod report). */
  readonly teamReads: TeamAccountReads;
  readonly #limiter: RateLimiter;
  readonly #audit: BudgetAuditSink | undefined;
  #doc: PolicyDocument;

  constructor({ doc, clock, limiter, audit, connection, onTeamRead }: LedgerGateConfig) {
    this.#doc = doc;
    this.#limiter = limiter;
    this.#audit = audit;
    this.ledger = new BudgetLedger({ name: doc.agent.name, clock, ...budgetOptions(doc) });
    this.#calls = new BudgetCalls(clock, this.ledger, limiter);
    this.teamReads = new TeamAccountReads({
      clock,
      connection: connection ?? (() => undefined),
      onChange: onTeamRead ?? (() => undefined),
    });
    this.teamReads.configure(doc.rateLimit.spend, doc.rateLimit.store?.teamKeyPrefix);
  }

  get enabled(): boolean {
    return this.ledger.enabled;
  }

  configure(doc: PolicyDocument): void {
    this.#doc = doc;
    this.ledger.configure(budgetOptions(doc));
    this.teamReads.configure(doc.rateLimit.spend, doc.rateLimit.store?.teamKeyPrefix);
  }

  run<T>(
    call: BudgetedCall,
    requestId: string | undefined,
    fn: (held: HeldBudgets | undefined) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    // With a store, the budgets are decided with the first attempt's limits, in one call; a
    // refusal is counted once it is final (a busy budget's call waits and asks again).
    const sharing = this.#limiter.sharing;
    const ran = this.#calls.run(
      this.#doc.rateLimit.spend?.budgets ?? [],
      () =>
        sharing ? this.ledger.claim(call, this.#limiter, true) : this.ledger.reserve(call, true),
      // Not async: it hands on fn's promise (a throw here is BudgetCalls.run's rejection).
      (ticket) => {
        if (ticket === undefined) return fn(undefined);
        const claim = sharing ? (ticket as BudgetClaim<ClaimContext> | undefined) : undefined;
        const audit = this.#audit;
        const settles =
          audit?.enabled === true ? auditedHold(ticket, call.model, requestId, audit) : ticket;
        return fn({ hold: ticket, claim, settles });
      },
      signal,
    );
    // Its settlement changes the team's account: read it again (never on the call's path).
    const read = (): void => {
      this.teamReads.called();
    };
    ran.then(read, read);
    return ran;
  }

  cheapestFirst(models: readonly string[], planned: PlannedCall): string[] {
    return this.ledger.cheapestFirst(models, planned);
  }

  fellBack(budget: string, served: boolean): void {
    this.ledger.fellBack(budget, served);
  }

  /** What the pod reports (`breakwater.dev/budgets`): this process's spend, the team's reads. */
  report(): BudgetReport | undefined {
    return budgetReportOf(this.ledger.spendReport(MAX_REPORTED_KEYS), this.teamReads);
  }

  close(): void {
    this.#calls.close();
    this.teamReads.close();
  }
}

/**
 * The budgets of a document, for the BudgetLedger. `leaseMs` is the longest a plain call can
 * take, a reservation's bound (its lease is that capped at five minutes and renewed while the
 * call runs, budgetLeases.ts): every attempt's timeout and backoff. A stream may take the
 * longest stream more (`streamMs`: the policy's `maxStreamDuration`, or the most it may be).
 * Each replica holds a `spend.shareOf` part of each budget, whatever the scope.
 */
export function budgetOptions(doc: PolicyDocument): BudgetLedgerOptions {
  const longestStream =
    doc.maxStreamDurationMs ?? parseDuration(AGENT_DEPLOYMENT_LIMITS.maxStreamDuration.maxDuration);
  return {
    spend: doc.rateLimit.spend,
    pricing: doc.pricing,
    shareOf: doc.rateLimit.spend?.shareOf ?? 1,
    leaseMs: doc.retry.maxAttempts * (doc.timeoutMs + doc.retry.maxDelayMs),
    streamMs: longestStream,
    teamKeyPrefix: doc.rateLimit.store?.teamKeyPrefix,
  };
}
