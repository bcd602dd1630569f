/**
 * Binds the runtime's ProviderGuard to the resilience guard in `runtime/src/guard/`:
 *
 * - one CircuitBreaker per backend × model (`<backend>/<model>`) and per tool (`tool:<name>`);
 * - one guard.Guard per breaker, all sharing the agent's RateLimiter and model Bulkhead
 *   (tools share their own bulkhead), with the policy's timeout and retry;
 * - fallback across models is the router's loop, backend choice the load balancer's.
 *
 * On a policy reload the same objects are reconfigured in place, so breaker state, token
 * buckets and retry budgets that are still meaningful survive the swap; breakers for a
 * backend, model or tool the new policy dropped are retired with their metric series.
 * Every breaker, limiter, bulkhead and guard is bound to GuardMetrics once, when created.
 *
 * The pieces: breakerRegistry.ts (breakers and guards by name, the limit, retirement, every
 * backend open), breakerEdges.ts (the soonest time-driven edge, the breakers an override
 * holds), storeSlot.ts (the policy's rate-limit store), rememberedOpen.ts (open periods
 * learned from the other replicas), backendFailover.ts (a call's move to another backend),
 * budgetedModelCall.ts (a call the budgets apply to), and here the composition and the edge
 * timer's wiring.
 *
 * Time-driven edges (an open period ending, an override lapsing) are taken by one EdgeTimer
 * for the whole set, so the pod report changes on time on an idle agent too. A replica that
 * starts while its agent's breakers are open is told so (`rememberOpen`) and starts them Open
 * for the rest of the open time instead of sending full traffic into the outage.
 */
import { LedgerGate, type BudgetAuditSink, type BudgetLedger } from '../../budget/budgets.ts';
import { Bulkhead } from '../bulkhead.ts';
import type { ErrorClassifier } from '../classification.ts';
import type { CircuitBreaker } from '../circuitBreaker.ts';
import { EdgeTimer } from '../edgeTimer.ts';
import { Guard, type GuardCallOptions } from '../guard.ts';
import type { GuardMetrics } from '../metrics.ts';
import { RateLimiter } from '../rateLimiter.ts';
import type { PolicyDocument } from '../../../../contract/src/policy/policyDocument.ts';
import type { StoreReport } from '../../../../contract/src/reporting/storeReport.ts';
import {
  providerBreakerName,
  toolBreakerName,
  type BreakerReport,
} from '../../../../contract/src/reporting/breakerReport.ts';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { nextEdge, overrideHeldBackends } from './breakerEdges.ts';
import { BreakerRegistry } from './breakerRegistry.ts';
import { retiredBreakers, type BreakerTarget } from './breakerRetirement.ts';
import { breakerReport } from './breakerReport.ts';
import { AnswerSettlements } from './answerSettlements.ts';
import { BackendFailover, type ModelGuardOf } from './backendFailover.ts';
import { budgetedModelCall } from './budgetedModelCall.ts';
import { ModelAttempt } from './modelAttempt.ts';
import { plannedCall } from './plannedCall.ts';
import { TOOL_CONCURRENCY, modelConcurrency, retryOptions } from './guardOptions.ts';
import {
  breakerViews,
  rateLimiterView,
  type BreakerView,
  type RateLimiterView,
} from './guardViews.ts';
import type {
  AttemptInfo,
  BackendPicker,
  BudgetRequest,
  NamedBackend,
  ProviderGuard,
  TokenEstimate,
} from './providerGuard.ts';
import { RememberedOpenPeriods, type RememberedOpen } from './rememberedOpen.ts';
import { StoreSlot, type StoreOpener } from './storeSlot.ts';
import type { BudgetReport } from '../../../../contract/src/reporting/budgetReport.ts';
import { breakerSettingsOf, ToolGroups, type ToolGroup } from './toolGroups.ts';

export interface GuardSetOptions {
  readonly doc: PolicyDocument;
  readonly clock: Clock;
  /** What the provider's and the HTTP tools' errors mean (the guard knows no provider). */
  readonly classifier: ErrorClassifier;
  /** Where breakers, limiter, bulkheads and guards are exported; none for a throwaway check. */
  readonly metrics?: GuardMetrics;
  /** Opens the rate-limit store a policy names (spec.store). */
  readonly openStore?: StoreOpener;
  /** Where each call's reservation and settlement are recorded (the audit log), when enabled. */
  readonly budgetAudit?: BudgetAuditSink;
}

export class GuardSet<B extends NamedBackend> implements ProviderGuard<B> {
  readonly #clock: Clock;
  readonly #classifier: ErrorClassifier;
  #doc: PolicyDocument;
  readonly #limiter: RateLimiter;
  /** The policy's budgets, held before a model call and settled after it (budgetGate.ts). */
  readonly #budgets: LedgerGate;
  /** Their ledger, read by the metrics and the runtime's reports, never by a call. */
  readonly #ledger: BudgetLedger;
  /** Calls answered whose budgets settle on the next turn. */
  readonly #settlements = new AnswerSettlements();
  readonly #modelBulkhead: Bulkhead;
  readonly #toolBulkhead: Bulkhead;
  /** MCP servers' tools: a bulkhead per server, breaker settings per server. */
  readonly #groups: ToolGroups;
  readonly #registry: BreakerRegistry;
  readonly #listeners = new Set<() => void>();
  readonly #store: StoreSlot;
  readonly #edges: EdgeTimer;
  readonly #remembered = new RememberedOpenPeriods();
  /** #modelGuard bound once, for each call's BackendFailover and rememberOpen. */
  readonly #guardOf: ModelGuardOf = (backend, model) => this.#modelGuard(backend, model);

  constructor({ doc, clock, classifier, metrics, openStore, budgetAudit }: GuardSetOptions) {
    this.#clock = clock;
    this.#classifier = classifier;
    this.#doc = doc;
    this.#edges = new EdgeTimer({
      clock,
      nextEdge: () => nextEdge(this.#registry.breakers.values(), this.#doc, this.#clock),
      onDue: (now) => {
        this.#settleDue(now);
      },
    });
    this.#registry = new BreakerRegistry({
      clock,
      metrics,
      remembered: this.#remembered,
      onChange: () => {
        this.#edges.reschedule();
        this.#notify();
      },
    });
    this.#limiter = new RateLimiter({ name: doc.agent.name, clock, options: doc.rateLimit });
    const budgets = new LedgerGate({
      doc,
      clock,
      limiter: this.#limiter,
      audit: budgetAudit,
      connection: () => this.#store.connection(),
      onTeamRead: () => {
        this.#notify();
      },
    });
    this.#budgets = budgets;
    this.#ledger = budgets.ledger;
    this.#modelBulkhead = new Bulkhead({
      name: `${doc.agent.name}/models`,
      clock,
      options: modelConcurrency(doc.rateLimit),
    });
    this.#toolBulkhead = new Bulkhead({
      name: `${doc.agent.name}/tools`,
      clock,
      options: TOOL_CONCURRENCY,
    });
    metrics?.bindLimiter(this.#limiter);
    metrics?.bindBudgets(this.#ledger);
    metrics?.bindBulkhead(this.#modelBulkhead);
    metrics?.bindBulkhead(this.#toolBulkhead);
    this.#groups = new ToolGroups(doc.agent.name, clock, metrics);
    this.#edges.reschedule(); // the policy's override may lapse before any breaker exists
    this.#store = new StoreSlot(openStore, this.#limiter, () => {
      this.#notify();
    });
    this.#store.sync(doc.rateLimit.store);
    this.#holdOverride();
  }

  /** The store's state for the pod report; undefined without one. */
  storeReport(): StoreReport | undefined {
    return this.#store.report();
  }

  /** This process's spend of each budget, and each team budget's account as last read. */
  budgetReport(): BudgetReport | undefined {
    return this.#budgets.report();
  }

  /** Closes the store's connection (shutdown), after the budgets still waiting settle. */
  close(): void {
    // Settlements still waiting for their turn go now, before the store sends its last ones.
    this.#settlements.settleAll();
    this.#budgets.close();
    this.#store.close();
  }

  /** Applies a new policy to the live objects. */
  reconfigure(doc: PolicyDocument): void {
    const retired = retiredBreakers(this.#registry.targets, this.#doc, doc);
    this.#doc = doc;
    for (const name of retired) this.#registry.retire(name);
    if (retired.length > 0) this.#notify();
    this.#limiter.reconfigure(doc.rateLimit);
    this.#budgets.configure(doc);
    this.#store.sync(doc.rateLimit.store);
    this.#modelBulkhead.reconfigure(modelConcurrency(doc.rateLimit));
    for (const [name, breaker] of this.#registry.breakers) {
      const target = this.#registry.targets.get(name);
      breaker.reconfigure(
        target === undefined ? doc.circuitBreaker : breakerSettingsOf(doc, target),
      );
    }
    this.#groups.retain(doc);
    for (const [name, guard] of this.#registry.guards) {
      if (name.startsWith('tool:')) continue;
      guard.reconfigure({ timeout: { timeoutMs: doc.timeoutMs }, retry: retryOptions(doc) });
    }
    this.#holdOverride();
    this.#edges.reschedule();
  }

  /**
   * An on-call override holds the primary model's breakers on a replica that has not called
   * it yet too: they are created now, on every backend that serves the model, so that the pod
   * report (and `kubectl get cbp`, and Argo CD's health) says ForcedOpen or ForcedClosed
   * before the first call comes, not Closed.
   */
  #holdOverride(): void {
    const doc = this.#doc;
    const created = overrideHeldBackends(doc, this.#registry.breakers, this.#clock);
    for (const backend of created) this.#modelGuard(backend, doc.model.name);
    if (created.length > 0) this.#notify();
  }

  /**
   * The agent's other replicas hold these provider breakers open: start them Open until then
   * (a breaker created later, for a model first called later, takes it over when created).
   * Breakers of a backend this policy does not have are ignored; a breaker that already
   * exists has its own evidence and keeps it.
   */
  rememberOpen(entries: readonly RememberedOpen[]): void {
    const backends = new Set(this.#doc.backends.map((b) => b.name));
    const { breakers } = this.#registry;
    this.#remembered.learn(entries, this.#clock.now(), backends, breakers, this.#guardOf);
  }

  /** When the edge timer fires next, if it is armed (for tests). */
  get nextEdgeTimer(): number | undefined {
    return this.#edges.armedFor;
  }

  /** Whether the policy's budgets apply to model calls (then every call goes through `callModel`). */
  get budgeted(): boolean {
    return this.#budgets.enabled;
  }

  /**
   * The lean /v1/messages path's guard (server/leanMessages.ts): `backend` × `model`'s own,
   * when no budget applies (a budgeted call goes through `callModel`).
   */
  plainGuard(backend: string, model: string): Guard | undefined {
    return this.#budgets.enabled ? undefined : this.#modelGuard(backend, model);
  }

  permits(backend: string, model: string): boolean {
    const breaker = this.#registry.breakers.get(providerBreakerName(backend, model));
    return breaker === undefined || !breaker.isRejecting(this.#clock.now());
  }

  /**
   * Not async: a call without budgets gets the guard's own promise back, no async frame and no
   * extra turns for a feature it does not use; a synchronous failure still comes as a rejection.
   */
  callModel<T>(
    model: string,
    pickBackend: BackendPicker<B>,
    attempt: (info: AttemptInfo<B>) => Promise<T>,
    signal: AbortSignal,
    estimate?: TokenEstimate,
    budget?: BudgetRequest,
  ): Promise<T> {
    try {
      const backend = pickBackend();
      if (backend === undefined) throw this.#registry.allOpen(model);
      const guard = this.#modelGuard(backend.name, model);
      // Budgets are held before the guard and its retries (budgetedModelCall.ts).
      const planned = this.#budgets.enabled ? plannedCall(estimate, budget) : undefined;
      const failover = new BackendFailover(backend, model, pickBackend, this.#guardOf);
      if (planned === undefined) {
        const options: GuardCallOptions =
          estimate === undefined ? { signal, failover } : { signal, estimate, failover };
        return guard.execute((a) => attempt(new ModelAttempt(a, model, failover.backend)), options);
      }
      const call = { model, clientKey: budget?.clientKey, planned, stream: budget?.stream };
      return budgetedModelCall(
        this.#budgets,
        this.#settlements,
        call,
        budget?.requestId,
        guard,
        failover,
        attempt,
        estimate,
        signal,
      );
    } catch (err) {
      // Whatever was thrown, rejected as it was (the guard's errors, an unmapped model).
      const thrown = err as Error;
      return Promise.reject(thrown);
    }
  }

  cheapestFirst(
    models: readonly string[],
    estimate: TokenEstimate | undefined,
    budget?: BudgetRequest,
  ): string[] {
    const planned = this.#budgets.enabled ? plannedCall(estimate, budget) : undefined;
    return planned === undefined ? [] : this.#budgets.cheapestFirst(models, planned);
  }

  budgetFellBack(budget: string, served: boolean): void {
    this.#budgets.fellBack(budget, served);
  }

  /** The budgets' ledger (the runtime's reports and seeds; tests, /debug). */
  get budgets(): BudgetLedger {
    return this.#ledger;
  }

  callTool<T>(
    tool: string,
    timeoutMs: number,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
    group?: ToolGroup,
  ): Promise<T> {
    const name = toolBreakerName(tool);
    let guard = this.#registry.guards.get(name);
    if (guard === undefined) {
      const target: BreakerTarget =
        group === undefined ? { kind: 'tool', tool } : { kind: 'tool', tool, server: group.name };
      guard = new Guard({
        name,
        clock: this.#clock,
        classifier: this.#classifier,
        target: { name, breaker: this.#breaker(name, target) },
        bulkhead:
          group === undefined ? this.#toolBulkhead : this.#groups.bulkhead(group, timeoutMs),
        timeout: { timeoutMs },
      });
      this.#registry.addGuard(name, guard);
    } else {
      guard.reconfigure({ timeout: { timeoutMs } });
    }
    return guard.execute((a) => fn(a.signal), { signal });
  }

  breakers(): Record<string, BreakerView> {
    return breakerViews(this.#registry.breakers, this.#clock.now());
  }

  rateLimiter(): RateLimiterView {
    return rateLimiterView(
      this.#limiter,
      this.#modelBulkhead,
      this.#toolBulkhead,
      this.#store.view(),
    );
  }

  breakerSummary(): BreakerReport {
    return breakerReport(this.#registry.breakers);
  }

  onBreakerChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #modelGuard(backend: string, model: string): Guard {
    const name = providerBreakerName(backend, model);
    let guard = this.#registry.guards.get(name);
    if (guard === undefined) {
      guard = new Guard({
        name,
        clock: this.#clock,
        classifier: this.#classifier,
        target: { name, breaker: this.#breaker(name, { kind: 'model', backend, model }) },
        limiter: this.#limiter,
        bulkhead: this.#modelBulkhead,
        timeout: { timeoutMs: this.#doc.timeoutMs },
        retry: retryOptions(this.#doc),
      });
      this.#registry.addGuard(name, guard);
    }
    return guard;
  }

  #breaker(name: string, target: BreakerTarget): CircuitBreaker {
    return this.#registry.breaker(name, target, breakerSettingsOf(this.#doc, target));
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Takes every breaker's due edges; listeners hear of each change. */
  #settleDue(now: number): void {
    for (const breaker of this.#registry.breakers.values()) breaker.settle(now);
    this.#notify(); // the override's lapse changes the report even when no breaker moved
  }
}
