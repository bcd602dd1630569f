/**
 * The mapping from the API's spec fields to the resolved policy document's: for each setting
 * the document carries, the spec field it comes from, the unit it is converted to and how a
 * Cluster-scope limit is shared among replicas. `make generate` reads this table with the
 * schemas and writes the document's setting types, defaults and bounds (./generated/); the
 * resolver and the document's check walk it, so a new setting is one line here.
 *
 * What is not field-for-field (agent identity, backends, the MCP server list, the breaker's
 * override, the store's Redis and key prefix) is composed by hand in
 * policyDocument.ts and policyResolution.ts.
 */

export type SpecKind = 'AgentDeployment' | 'CircuitBreakerPolicy' | 'RateLimitPolicy';

/**
 * How a spec value becomes the document's: `duration` is a Duration string ("30s") to
 * milliseconds, `seconds` a count of seconds to milliseconds, `usd` a decimal dollar string
 * ("12.50") to whole micro-dollars (contract/src/api/usd.ts); absent: as it is.
 */
export type FieldUnit = 'duration' | 'seconds' | 'usd';

/**
 * How a Cluster-scope total is divided among the ready replicas: `rate` keeps the fraction
 * (rounded to three decimals), `whole` rounds down; neither goes below `floor`, so that a
 * replica's share never turns a tight limit into an outage.
 */
export interface ReplicaShare {
  readonly kind: 'rate' | 'whole';
  readonly floor: number;
  /** The field of RateLimitPolicy `status.effective` (RateLimitShare) that reports it. */
  readonly status: string;
}

export interface DocumentField {
  /** Path below `spec`, as contract/src/api/specLimits.ts keys it. */
  readonly spec: string;
  readonly unit?: FieldUnit;
  readonly share?: ReplicaShare;
  /** The sibling `type` whose tighter maximum (the schema's CEL rule) applies here. */
  readonly whenType?: string;
}

/** One object of the document: its settings, by the document's name for each. */
export type DocumentSection = Readonly<Record<string, DocumentField>>;

export interface DocumentRoot {
  readonly kind: SpecKind;
  /** Sections by their path below the root ('' is the root object itself). */
  readonly sections: Readonly<Record<string, DocumentSection>>;
}

const ms = (spec: string): DocumentField => ({ spec, unit: 'duration' });
const as = (spec: string): DocumentField => ({ spec });
const usd = (spec: string): DocumentField => ({ spec, unit: 'usd' });

/** Each root's sections; the generated type of a section is named `<Root><Section>Fields`. */
export const DOCUMENT_FIELDS = {
  /** The document's own settings, from the AgentDeployment. */
  agent: {
    kind: 'AgentDeployment',
    sections: {
      '': {
        loadBalancing: as('loadBalancing'),
        cacheAffinity: as('cacheAffinity'),
        timeoutMs: ms('timeout'),
        streamIdleTimeoutMs: ms('streamIdleTimeout'),
        maxStreamDurationMs: ms('maxStreamDuration'),
      },
      model: { maxTokens: as('model.maxTokens'), temperature: as('model.temperature') },
      retry: {
        maxAttempts: as('retry.maxAttempts'),
        initialDelayMs: ms('retry.backoff.initialDelay'),
        maxDelayMs: ms('retry.backoff.maxDelay'),
      },
      cache: {
        enabled: as('cache.enabled'),
        maxEntries: as('cache.maxEntries'),
        ttlMs: ms('cache.ttl'),
      },
      security: { promptInjection: as('security.promptInjection') },
      audit: { enabled: as('audit.enabled') },
      /** Written only when the agent sets `durability`. */
      durability: { retentionMs: ms('durability.retention') },
    },
  },
  /** `tools[]`. */
  tool: { kind: 'AgentDeployment', sections: { '': { timeoutMs: ms('tools[].timeout') } } },
  /** `mcpServers[]`. */
  mcpServer: {
    kind: 'AgentDeployment',
    sections: {
      '': {
        timeoutMs: ms('mcpServers[].timeout'),
        maxConcurrent: as('mcpServers[].maxConcurrent'),
        onUnknownOutcome: as('mcpServers[].onUnknownOutcome'),
      },
    },
  },
  /** `circuitBreaker`, and each MCP server's own. */
  breaker: {
    kind: 'CircuitBreakerPolicy',
    sections: {
      '': {
        failureThreshold: as('failureThreshold'),
        successThreshold: as('successThreshold'),
        openDurationMs: ms('openDuration'),
        maxOpenDurationMs: ms('maxOpenDuration'),
        halfOpenMaxCalls: as('halfOpenMaxCalls'),
        openRetryAfter: as('openAnswer.retryAfter'),
        openMaxRetryAfterMs: ms('openAnswer.maxRetryAfter'),
        failOn: as('failOn'),
        mode: as('mode'),
      },
      failureRate: {
        thresholdPercent: as('failureRate.thresholdPercent'),
        minimumCalls: as('failureRate.minimumCalls'),
      },
      countWindow: { size: as('failureRate.window.size') },
      timeWindow: {
        sizeMs: { spec: 'failureRate.window.size', unit: 'seconds', whenType: 'Time' },
      },
      slowCall: {
        durationMs: ms('slowCall.duration'),
        thresholdPercent: as('slowCall.thresholdPercent'),
      },
      loopDetection: {
        maxRepeats: as('loopDetection.maxRepeats'),
        maxCycleRepeats: as('loopDetection.maxCycleRepeats'),
      },
    },
  },
  /** `rateLimit`: the numbers a replica enforces are named `replica…` in every scope. */
  rateLimit: {
    kind: 'RateLimitPolicy',
    sections: {
      '': { scope: as('scope'), onLimit: as('onLimit'), mode: as('mode') },
      requests: {
        replicaPerSecond: {
          spec: 'requests.perSecond',
          share: { kind: 'rate', floor: 0.001, status: 'requestsPerSecond' },
        },
        replicaBurst: {
          spec: 'requests.burst',
          share: { kind: 'whole', floor: 1, status: 'burst' },
        },
      },
      tokens: {
        replicaInputPerMinute: {
          spec: 'tokens.inputPerMinute',
          share: { kind: 'whole', floor: 1, status: 'inputTokensPerMinute' },
        },
        replicaOutputPerMinute: {
          spec: 'tokens.outputPerMinute',
          share: { kind: 'whole', floor: 1, status: 'outputTokensPerMinute' },
        },
      },
      concurrency: {
        replicaMaxConcurrent: {
          spec: 'concurrency.maxConcurrent',
          share: { kind: 'whole', floor: 1, status: 'maxConcurrent' },
        },
        replicaMaxQueue: {
          spec: 'concurrency.maxQueue',
          share: { kind: 'whole', floor: 0, status: 'maxQueue' },
        },
        queueTimeoutMs: ms('concurrency.queueTimeout'),
      },
      adaptive: {
        honorRetryAfter: as('adaptive.honorRetryAfter'),
        providerHeaders: as('adaptive.providerHeaders'),
      },
      store: { waitBudgetMs: ms('store.waitBudget') },
      /** Written with the budgets only: the calendar their periods follow. */
      spend: { timeZone: as('timeZone'), webSearchResultTokens: as('webSearchResultTokens') },
    },
  },
  /**
   * `budgets[]`, under `rateLimit.spend.budgets`: the agent's (or each key's) totals, never
   * divided among replicas; dollars in whole micro-dollars.
   */
  budget: {
    kind: 'RateLimitPolicy',
    sections: {
      '': {
        period: as('budgets[].period'),
        limitMicroUsd: usd('budgets[].usd'),
        limitTokens: as('budgets[].tokens'),
        per: as('budgets[].per'),
        onExhausted: as('budgets[].onExhausted'),
        warnAtPercent: as('budgets[].warnAtPercent'),
        waitForHeldMs: ms('budgets[].waitForHeld'),
      },
    },
  },
  /** `pricing[]`: micro-dollars per million tokens, which is picodollars per token. */
  price: {
    kind: 'AgentDeployment',
    sections: {
      '': {
        inputMicroUsdPerMTok: usd('pricing[].inputPerMTok'),
        outputMicroUsdPerMTok: usd('pricing[].outputPerMTok'),
        cacheWrite5mMicroUsdPerMTok: usd('pricing[].cacheWrite5mPerMTok'),
        cacheWrite1hMicroUsdPerMTok: usd('pricing[].cacheWrite1hPerMTok'),
        cacheReadMicroUsdPerMTok: usd('pricing[].cacheReadPerMTok'),
      },
    },
  },
} as const satisfies Readonly<Record<string, DocumentRoot>>;

export type DocumentRootName = keyof typeof DOCUMENT_FIELDS;
