/**
 * Assembles the runtime: the policy store and its source, the guard rebuilt on each policy,
 * the provider router, the API and metrics servers, and the orderly shutdown.
 */
import { rfc3339Seconds } from '../../platform/src/time/rfc3339.ts';
import { LoopLedger } from './agent/loopLedger.ts';
import type { LoopReport } from '../../contract/src/reporting/mcpReport.ts';
import type { DurableRuns } from './durable/durableRuns.ts';
import { durableParts } from './durable/durableParts.ts';
import type { OwnedRuns } from './durable/ownedRuns.ts';
import { ownedRunExecutor } from './durable/ownedRunExecution.ts';
import { failureError } from './server/errorReplies.ts';
import { McpTools } from './mcp/mcpTools.ts';
import { mcpEndpoint } from './mcp/runtimeMcpEndpoint.ts';
import type { McpEndpoint } from './mcp/mcpEndpoint.ts';
import { anthropicClassifier } from './provider/anthropic/errorClassification.ts';
import { ClientKeys } from './access/clientKeys.ts';
import { KEYLESS_BUDGET_WARNING, keylessBudgetFields } from './access/keylessBudgets.ts';
import { AuditLog } from './audit/auditLog.ts';
import { ResponseCache } from './cache/responseCache.ts';
import type { RuntimeOptions } from './cli/runtimeOptions.ts';
import type { ClientKeySource } from './policy/sourceDeps.ts';
import type { ClusterReplica } from './cluster/clusterIntegration.ts';
import type { ReportedState } from './cluster/podReporter.ts';
import type { AppliedPolicy, PolicyStore } from './policy/policyStore.ts';
import { countedPolicyStore } from './policy/countedPolicyStore.ts';
import { ActiveBreakers } from './policy/activeBreakers.ts';
import { BackendPool, type Backend } from './provider/backendPool.ts';
import { GuardMetrics } from './guard/metrics.ts';
import { genAiLatestOptIn } from './telemetry/genAiConventions.ts';
import { GuardSet } from './guard/guardSet/guardSet.ts';
import type { RememberedOpen } from './guard/guardSet/rememberedOpen.ts';
import type { BudgetSeed } from './budget/budgets.ts';
import { RedisStore } from './rateLimitStore/redisStore.ts';
import { storeSecretFiles } from './rateLimitStore/storeConnection.ts';
import { recordPolicyChange } from './audit/policyAudit.ts';
import { attemptTelemetry } from './telemetry/attemptTelemetry.ts';
import { servedTokenTelemetry, pinTelemetry } from './telemetry/cacheTelemetry.ts';
import { CacheAffinity } from './provider/cacheAffinity/cacheAffinity.ts';
import { StorePins } from './rateLimitStore/cachePins.ts';
import { ModelRouter } from './provider/modelRouter.ts';
import { streamLimits } from './provider/providerAttempt.ts';
import { ProviderHeadroom } from './provider/providerHeadroom.ts';
import { Lifecycle } from './server/lifecycle.ts';
import { startRuntimeServers, type RuntimeServers } from './server/runtimeServers.ts';
import { runtimeHealth } from './server/runtimeHealth.ts';
import type { ActivePolicy } from './policy/activePolicy.ts';
import { LEAN_ROUTE_ENV, planMessages } from './server/messagesPlan.ts';
import type { RuntimeContext } from './server/runtimeContext.ts';
import { CallStats } from './stats/callStats.ts';
import type { Logger } from './telemetry/logger.ts';
import { ModelRetirementNotice } from './telemetry/modelRetirementNotice.ts';
import { RuntimeMetrics } from './telemetry/runtimeMetrics.ts';
import { runtimeReport } from './reporting/runtimeReport.ts';
import type { Clock } from '../../platform/src/time/clock.ts';
import { sleep } from '../../platform/src/time/sleep.ts';
import { POD_CLIENT_KEY_ENV } from '../../contract/src/pod/agentEnvironment.ts';
import { DOCUMENT_DEFAULTS } from '../../contract/src/policy/generated/documentDefaults.ts';

export interface RuntimeDeps {
  readonly options: RuntimeOptions;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class AgentRuntime implements ClusterReplica {
  readonly store: PolicyStore;
  readonly clientKeys = new ClientKeys();
  readonly metrics: RuntimeMetrics;
  readonly context: RuntimeContext;
  /** The provider's quota left per backend, for the gauge and the pod report. */
  readonly headroom: ProviderHeadroom;
  readonly #guardMetrics: GuardMetrics;
  readonly #deps: RuntimeDeps;
  readonly #pool: BackendPool;
  readonly #lifecycle = new Lifecycle();
  readonly #cache: ResponseCache;
  /** Prompt-cache pins; shared through the policy's store while it has one (cachePins.ts). */
  readonly #affinity: CacheAffinity;
  #pinStore: RedisStore | undefined;
  readonly #audit: AuditLog;
  /** The MCP servers of the policy in force, and the loops found (issue 23). */
  readonly mcp: McpTools;
  readonly loops: LoopLedger;
  readonly #mcpEndpoint: McpEndpoint;
  readonly #retirementNotice: ModelRetirementNotice;
  /** Durable runs' journals (issue 36). */
  readonly durable: DurableRuns;
  /** The bundled agent's runs (`/v1/agent/runs`), leased and taken over. */
  readonly ownedRuns: OwnedRuns;
  #active: ActivePolicy | undefined;
  #guardSet: GuardSet<Backend> | undefined;
  #servers: RuntimeServers | undefined;
  #keySource: ClientKeySource | undefined;
  /** Open breakers learned before the first policy, handed to the GuardSet when it is made. */
  #rememberedOpen: readonly RememberedOpen[] = [];
  #rememberedSpend: readonly BudgetSeed[] = [];
  readonly #started: number;

  constructor(deps: RuntimeDeps) {
    this.#deps = deps;
    this.#started = deps.clock.now();
    const { clock, logger } = deps;
    this.metrics = new RuntimeMetrics(undefined, { genAiLatest: genAiLatestOptIn(deps.env) });
    this.#guardMetrics = new GuardMetrics(this.metrics.registry);
    const reloads = this.metrics.policyReloads;
    this.store = countedPolicyStore(clock, deps.options.source.kind, reloads, logger);
    this.clientKeys.setPodKey(deps.env[POD_CLIENT_KEY_ENV]);
    this.#pool = new BackendPool(deps.env, clock);
    // Sized by the schema's defaults until the first policy resizes it.
    const { maxEntries, ttlMs } = DOCUMENT_DEFAULTS.agent.cache;
    this.#cache = new ResponseCache(clock, maxEntries, ttlMs);
    this.#audit = new AuditLog(false);
    this.#affinity = new CacheAffinity({
      clock,
      shared: new StorePins(() => this.#pinStore, clock),
      onOutcome: pinTelemetry(this.metrics),
      fiveMinuteTtlMs: deps.options.promptCacheTtlMs,
    });
    this.mcp = new McpTools({ clock: deps.clock, logger: deps.logger, env: deps.env });
    this.loops = new LoopLedger({
      clock: deps.clock,
      metrics: this.metrics,
      logger: deps.logger,
      audit: this.#audit,
    });
    this.#retirementNotice = new ModelRetirementNotice({
      gauge: this.metrics.modelEndOfLife,
      logger,
      clock,
    });
    const stats = new CallStats(clock);
    const durable = durableParts({
      clock,
      logger,
      registry: this.metrics.registry,
      audit: this.#audit,
      env: deps.env,
    });
    const durableMetrics = durable.metrics;
    this.durable = durable.durable;
    this.ownedRuns = durable.ownedRuns;
    this.#mcpEndpoint = mcpEndpoint({
      mcp: this.mcp,
      loops: this.loops,
      active: () => this.#active,
      metrics: this.metrics,
      stats,
      audit: this.#audit,
      logger,
      clock,
      durable: this.durable,
      durableMetrics,
    });
    this.headroom = new ProviderHeadroom(clock);
    this.metrics.trackHeadroom(this.headroom);
    this.#router = new ModelRouter({
      pool: this.#pool,
      guard: () => {
        if (this.#active === undefined) throw new Error('no policy in force');
        return this.#active.guard;
      },
      clock,
      strategy: () => this.#active?.doc.loadBalancing ?? 'RoundRobin',
      streamLimits: () => streamLimits(this.#active?.doc),
      observe: attemptTelemetry(this.metrics, this.headroom, logger),
      affinity: this.#affinity,
      affinityOn: () => this.#active?.doc.cacheAffinity !== 'Off',
      observeUsage: servedTokenTelemetry(this.metrics),
    });
    this.metrics.trackPins(() => this.#affinity.size);
    this.context = {
      clock,
      logger,
      metrics: this.metrics,
      store: this.store,
      active: () => this.#active,
      router: this.#router,
      clientKeys: this.clientKeys,
      lifecycle: this.#lifecycle,
      cache: this.#cache,
      stats,
      audit: this.#audit,
      mcp: this.mcp,
      loops: this.loops,
      mcpEndpoint: this.#mcpEndpoint,
      durable: this.durable,
      durableMetrics,
      ownedRuns: this.ownedRuns,
      health: () => runtimeHealth(this.store, this.#active, this.#pool.backends, this.#lifecycle),
    };
    this.ownedRuns.executor = ownedRunExecutor({
      ...this.context,
      failureError: (err) => failureError(err, clock.now()),
    });
    this.store.onChange((next, previous) => {
      this.#apply(next, previous);
    });
  }

  readonly #router: ModelRouter;

  /** Breaker transitions of whichever guard is in force (for the pod reporter). */
  onBreakerChange(listener: () => void): void {
    this.#breakers.listen(listener, this.#active?.guard);
  }

  readonly #breakers = new ActiveBreakers();

  /**
   * The agent's other replicas hold these provider breakers open (from its status, read at
   * startup): this replica starts them Open until then rather than Closed.
   */
  rememberOpenBreakers(entries: readonly RememberedOpen[]): void {
    if (this.#guardSet === undefined) this.#rememberedOpen = entries;
    else this.#guardSet.rememberOpen(entries);
  }

  /**
   * What the agent has spent this period by its status (read at startup, spendAtStart.ts):
   * the budgets count it as spent before the first call.
   */
  rememberSpend(seeds: readonly BudgetSeed[]): void {
    if (this.#guardSet === undefined) this.#rememberedSpend = seeds;
    else this.#guardSet.budgets.seed(seeds);
  }

  /** What this replica's pod annotations say: the policy in force, breakers, store, headroom, MCP. */
  podReport(): ReportedState {
    return {
      policyHash: this.#active?.hash,
      breakers: this.#active?.guard.breakerSummary() ?? {},
      store: this.#active?.guard.storeReport?.(),
      headroom: this.headroom.report(),
      // When this process started and the override it applies.
      runtime: runtimeReport(this.#started, this.#active?.doc, this.#deps.clock.now()),
      // The MCP servers as this replica sees them, and the last loop it found.
      mcp: { servers: this.mcp.report(rfc3339Seconds), ...lastLoopOf(this.loops) },
      budgets: this.#guardSet?.budgetReport(),
      durable: this.durable.report(),
    };
  }

  /** Every change `podReport()` reflects: the policy, a breaker, headroom, MCP servers, loops. */
  onReportChange(listener: () => void): void {
    this.store.onChange(listener);
    this.onBreakerChange(listener);
    this.headroom.onChange(listener);
    this.mcp.onChange(listener);
    this.loops.onChange(listener);
  }

  get lifecycle(): Lifecycle {
    return this.#lifecycle;
  }

  get active(): ActivePolicy | undefined {
    return this.#active;
  }

  /**
   * Provider keys by environment variable name, from Secrets among `--manifests`; they take
   * the place of the environment's. Clients are rebuilt only for a key that changed.
   */
  useProviderKeys(keys: Readonly<Record<string, string>>): void {
    this.#pool.setKeys(keys);
    if (this.#active !== undefined) this.#pool.update(this.#active.doc.backends);
  }

  useDurabilityKey(key: Buffer | undefined): void {
    this.durable.useManifestKey(key);
  }

  useClientKeySource(source: ClientKeySource): void {
    this.#keySource = source;
    if (this.#active !== undefined) source.follow(this.#active.doc.access.clientKeysSecret);
  }

  async listen(): Promise<{ port: number; metricsPort: number }> {
    this.#servers = await startRuntimeServers(
      this.context,
      this.metrics.registry,
      this.#deps.options,
    );
    return { port: this.#servers.port, metricsPort: this.#servers.metricsPort };
  }

  /**
   * SIGTERM: readiness fails at once, but requests go on being served for the drain delay
   * (`--drain-delay-ms`), while endpoints, kube-proxy and ingresses learn that this pod is
   * going; then new requests get 503, the ones in flight get up to `graceMs` to finish, and
   * the servers close.
   */
  async shutdown(graceMs: number): Promise<{ drained: boolean }> {
    const { clock, options } = this.#deps;
    this.#lifecycle.startDraining();
    if (options.drainDelayMs > 0) await sleep(clock, options.drainDelayMs);
    this.#lifecycle.refuseNewRequests();
    this.ownedRuns.stopTakingOver();
    let cancel: () => void = () => undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      cancel = clock.setTimeout(() => {
        resolve(false);
      }, graceMs);
    });
    // The runs executing here get the same grace; those still going then are handed over.
    const idle = Promise.all([this.#lifecycle.idle(), this.ownedRuns.idle()]);
    const drained = await Promise.race([idle.then(() => true), timedOut]);
    cancel();
    await this.ownedRuns.close();
    await this.#servers?.closeApi();
    this.#guardSet?.close();
    await this.#mcpEndpoint.close();
    await this.mcp.close();
    this.durable.close();
    await this.#servers?.closeMetrics();
    return { drained };
  }

  #apply(next: AppliedPolicy, previous: AppliedPolicy | undefined): void {
    const { doc } = next;
    this.#pool.update(doc.backends);
    this.mcp.sync(doc.mcpServers ?? []);
    for (const b of this.#pool.backends) {
      if (!b.hasKey)
        this.#deps.logger.warn(
          { backend: b.name, env: b.apiKeyEnv },
          'no provider API key in the environment',
        );
    }
    // One GuardSet for the process, reconfigured in place: breaker state, token buckets and
    // retry budgets carry over a reload.
    let guard = this.#guardSet;
    if (guard === undefined) {
      guard = this.#guardSet = new GuardSet({
        classifier: anthropicClassifier,
        doc,
        clock: this.#deps.clock,
        metrics: this.#guardMetrics,
        budgetAudit: this.#audit,
        openStore: (settings, onStateChange) =>
          (this.#pinStore = new RedisStore({
            name: doc.agent.name,
            settings,
            clock: this.#deps.clock,
            secretFiles: storeSecretFiles(this.#deps.env),
            logger: this.#deps.logger,
            onStateChange,
          })),
      });
      guard.rememberOpen(this.#rememberedOpen);
      this.#rememberedOpen = [];
      guard.budgets.seed(this.#rememberedSpend);
      this.#rememberedSpend = [];
    } else guard.reconfigure(doc);
    // How /v1/messages serves this policy's calls, decided now rather than per call.
    const messages = planMessages(doc, guard, this.#deps.env[LEAN_ROUTE_ENV]);
    this.#active = { doc, hash: next.hash, guard, messages };
    this.#breakers.follow(guard);
    this.#cache.resize(doc.cache.maxEntries, doc.cache.ttlMs);
    if (!doc.cache.enabled) this.#cache.clear();
    this.#audit.enabled = doc.audit.enabled;
    this.#keySource?.follow(doc.access.clientKeysSecret);
    // The policy's Secret enforces keys even before its source has read them (401 for all).
    const enforced = this.clientKeys.enforced || doc.access.clientKeysSecret !== undefined;
    const keyless = keylessBudgetFields(doc, enforced);
    if (keyless.length > 0)
      this.#deps.logger.warn({ fields: keyless, policy: next.hash }, KEYLESS_BUDGET_WARNING);
    this.durable.configure(doc.durability);
    this.ownedRuns.follow();
    this.metrics.policyInfo.reset();
    this.metrics.policyInfo.set({ hash: next.hash }, 1);
    recordPolicyChange(this.#audit, next, previous);
    this.#deps.logger.info(
      { hash: next.hash, previous: previous?.hash, source: next.source },
      'policy applied',
    );
    this.#retirementNotice.update(doc.model);
  }
}

function lastLoopOf(loops: LoopLedger): { lastLoop?: LoopReport } {
  const lastLoop = loops.last;
  return lastLoop === undefined ? {} : { lastLoop };
}
