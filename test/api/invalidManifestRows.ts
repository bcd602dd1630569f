/**
 * Manifests admission must refuse, each with the field the refusal names and what it says:
 * created for real on the cluster (test/api/invalidManifests.test.ts) and read by the
 * runtime's `--manifests` (runtime/src/policy/manifestAdmission.test.ts), so the two paths in
 * are held to one list.
 */
import { GROUP_VERSION } from '../../contract/src/api/group.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import type { Manifest, Refusal, Spec } from './admission.ts';

export const breakerPolicy = (spec: Spec): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'CircuitBreakerPolicy',
  metadata: {},
  spec,
});

export const someRequests = { requests: { perSecond: 5, burst: 10 } };
export const rateLimitPolicy = (spec: Spec): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'RateLimitPolicy',
  metadata: {},
  spec,
});

const validAgent: Spec = {
  model: { name: FALLBACK_MODEL },
  provider: { apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } },
};
export const agent = (spec: Spec, name?: string): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'AgentDeployment',
  metadata: name === undefined ? {} : { name },
  spec: { ...validAgent, ...spec },
});

/** A valid cloud backend of the agent's model, with `fields` set or (undefined) removed. */
const cloudBackend = (base: Spec, fields: Spec): Spec =>
  Object.fromEntries(
    Object.entries({ ...base, ...fields }).filter(([, value]) => value !== undefined),
  );
export const bedrock = (fields: Spec): Spec =>
  cloudBackend(
    {
      name: 'bedrock-us',
      type: 'Bedrock',
      region: 'us-east-1',
      models: { [FALLBACK_MODEL]: `us.anthropic.${FALLBACK_MODEL}-v1:0` },
    },
    fields,
  );
export const vertex = (fields: Spec): Spec =>
  cloudBackend(
    {
      name: 'vertex',
      type: 'Vertex',
      region: 'us-east5',
      projectID: 'my-project',
      models: { [FALLBACK_MODEL]: FALLBACK_MODEL },
    },
    fields,
  );

const tool = (name: string): Spec => ({
  name,
  description: 'Looks up an order.',
  inputSchema: { type: 'object' },
  url: 'http://orders.example.svc/lookup',
});

export const invalidManifests: readonly Refusal[] = [
  // CircuitBreakerPolicy
  {
    name: 'rejects a failureThreshold of 0',
    manifest: breakerPolicy({ failureThreshold: 0 }),
    field: 'spec.failureThreshold',
    says: 'greater than or equal to 1',
  },
  {
    name: 'rejects a successThreshold above 100',
    manifest: breakerPolicy({ successThreshold: 101 }),
    field: 'spec.successThreshold',
    says: 'less than or equal to 100',
  },
  {
    name: 'rejects an openDuration that is not a duration',
    manifest: breakerPolicy({ openDuration: 'soon' }),
    field: 'spec.openDuration',
    says: 'should match',
  },
  {
    name: 'rejects an openDuration under one second',
    manifest: breakerPolicy({ openDuration: '500ms' }),
    field: 'spec.openDuration',
    says: 'must be between 1s and 24h',
  },
  {
    name: 'rejects a maxOpenDuration shorter than openDuration',
    manifest: breakerPolicy({ openDuration: '2m', maxOpenDuration: '90s' }),
    field: 'spec.maxOpenDuration',
    says: 'maxOpenDuration must be at least openDuration',
  },
  {
    name: 'rejects an open answer Bounded with no cap',
    manifest: breakerPolicy({ openAnswer: { retryAfter: 'Bounded' } }),
    field: 'spec.openAnswer.maxRetryAfter',
    says: 'retryAfter Bounded needs maxRetryAfter',
  },
  {
    name: 'rejects a maxRetryAfter with retryAfter Remaining',
    manifest: breakerPolicy({ openAnswer: { retryAfter: 'Remaining', maxRetryAfter: '5s' } }),
    field: 'spec.openAnswer.maxRetryAfter',
    says: 'maxRetryAfter is only used with retryAfter Bounded',
  },
  {
    name: 'rejects a maxRetryAfter with the default retryAfter (None)',
    manifest: breakerPolicy({ openAnswer: { maxRetryAfter: '5s' } }),
    field: 'spec.openAnswer.maxRetryAfter',
    says: 'maxRetryAfter is only used with retryAfter Bounded',
  },
  {
    name: 'rejects a maxRetryAfter under one second',
    manifest: breakerPolicy({ openAnswer: { retryAfter: 'Bounded', maxRetryAfter: '500ms' } }),
    field: 'spec.openAnswer.maxRetryAfter',
    says: 'must be between 1s and 24h',
  },
  {
    name: 'rejects an open answer the runtime does not know',
    manifest: breakerPolicy({ openAnswer: { retryAfter: 'Wait' } }),
    field: 'spec.openAnswer.retryAfter',
    says: 'Unsupported value: "Wait"',
  },
  {
    name: 'rejects more half-open probes than successes needed to close',
    manifest: breakerPolicy({ successThreshold: 2, halfOpenMaxCalls: 3 }),
    field: 'spec.successThreshold',
    says: 'successThreshold must be at least halfOpenMaxCalls',
  },
  {
    name: 'rejects a failure-rate threshold of 0 percent',
    manifest: breakerPolicy({ failureRate: { thresholdPercent: 0 } }),
    field: 'spec.failureRate.thresholdPercent',
    says: 'greater than or equal to 1',
  },
  {
    name: 'rejects a failure-rate threshold above 100 percent',
    manifest: breakerPolicy({ failureRate: { thresholdPercent: 101 } }),
    field: 'spec.failureRate.thresholdPercent',
    says: 'less than or equal to 100',
  },
  {
    name: 'rejects a Time window longer than an hour',
    manifest: breakerPolicy({
      failureRate: { thresholdPercent: 50, window: { type: 'Time', size: 7200 } },
    }),
    field: 'spec.failureRate.window.size',
    says: 'must be at most 3600',
  },
  {
    name: 'rejects minimumCalls larger than a Count window',
    manifest: breakerPolicy({
      failureRate: { thresholdPercent: 50, minimumCalls: 50, window: { type: 'Count', size: 20 } },
    }),
    field: 'spec.failureRate.minimumCalls',
    says: 'minimumCalls must not exceed window.size',
  },
  {
    name: 'rejects a slow-call rule without a duration',
    manifest: breakerPolicy({ slowCall: { thresholdPercent: 50 } }),
    field: 'spec.slowCall.duration',
    says: 'Required value',
  },
  {
    name: 'rejects an error class failOn does not know',
    manifest: breakerPolicy({ failOn: ['Teapot'] }),
    field: 'spec.failOn[0]',
    says: 'Unsupported value: "Teapot"',
  },
  {
    name: 'rejects an error class listed twice in failOn',
    manifest: breakerPolicy({ failOn: ['Timeout', 'Timeout'] }),
    field: 'spec.failOn[1]',
    says: 'Duplicate value',
  },
  {
    name: 'rejects a forced-open override without a reason',
    manifest: breakerPolicy({ override: { state: 'ForcedOpen' } }),
    field: 'spec.override.reason',
    says: 'reason is required when state is ForcedOpen or ForcedClosed',
  },
  {
    name: 'rejects an override end time that is not a timestamp',
    manifest: breakerPolicy({ override: { state: 'Auto', until: 'tomorrow' } }),
    field: 'spec.override.until',
    says: 'date-time',
  },
  {
    name: 'rejects a mode other than Enforce or Shadow',
    manifest: breakerPolicy({ mode: 'Observe' }),
    field: 'spec.mode',
    says: 'Unsupported value: "Observe"',
  },
  // RateLimitPolicy
  {
    name: 'rejects a rate limit policy that limits nothing',
    manifest: rateLimitPolicy({ scope: 'Cluster' }),
    field: 'spec.requests',
    says: 'set at least one of requests, tokens, concurrency and budgets',
  },
  {
    name: 'rejects a request rate of zero',
    manifest: rateLimitPolicy({ requests: { perSecond: 0, burst: 1 } }),
    field: 'spec.requests.perSecond',
    says: 'greater than 0',
  },
  {
    name: 'rejects a burst of zero',
    manifest: rateLimitPolicy({ requests: { perSecond: 1, burst: 0 } }),
    field: 'spec.requests.burst',
    says: 'greater than or equal to 1',
  },
  {
    name: 'rejects a token budget with neither input nor output',
    manifest: rateLimitPolicy({ tokens: {} }),
    field: 'spec.tokens',
    says: 'at least 1 properties',
  },
  {
    name: 'rejects a maxConcurrent of zero',
    manifest: rateLimitPolicy({ concurrency: { maxConcurrent: 0 } }),
    field: 'spec.concurrency.maxConcurrent',
    says: 'greater than or equal to 1',
  },
  {
    name: 'rejects a negative maxQueue',
    manifest: rateLimitPolicy({ concurrency: { maxConcurrent: 5, maxQueue: -1 } }),
    field: 'spec.concurrency.maxQueue',
    says: 'greater than or equal to 0',
  },
  {
    name: 'rejects a queueTimeout over five minutes',
    manifest: rateLimitPolicy({ concurrency: { maxConcurrent: 5, queueTimeout: '10m' } }),
    field: 'spec.concurrency.queueTimeout',
    says: 'must be between 1ms and 5m',
  },
  {
    name: 'rejects onLimit Wait without maxWait',
    manifest: rateLimitPolicy({ ...someRequests, onLimit: 'Wait' }),
    field: 'spec.maxWait',
    says: 'maxWait is required when onLimit is Wait',
  },
  {
    name: 'rejects maxWait when calls over the limit are rejected at once',
    manifest: rateLimitPolicy({ ...someRequests, onLimit: 'Reject', maxWait: '2s' }),
    field: 'spec.maxWait',
    says: 'maxWait applies only when onLimit is Wait',
  },
  {
    name: 'rejects a scope other than PerReplica or Cluster',
    manifest: rateLimitPolicy({ ...someRequests, scope: 'Global' }),
    field: 'spec.scope',
    says: 'Unsupported value: "Global"',
  },
  {
    name: 'rejects a store on counters divided per replica',
    manifest: rateLimitPolicy({ ...someRequests, store: { redis: { address: 'redis:6379' } } }),
    field: 'spec.scope',
    says: 'store keeps the counters of the whole agent: set scope to Cluster',
  },
  {
    name: 'rejects a store address without a port',
    manifest: rateLimitPolicy({
      ...someRequests,
      scope: 'Cluster',
      store: { redis: { address: 'redis' } },
    }),
    field: 'spec.store.redis.address',
    says: 'should match',
  },
  {
    name: 'rejects a wait budget over a second',
    manifest: rateLimitPolicy({
      ...someRequests,
      scope: 'Cluster',
      store: { redis: { address: 'redis:6379' }, waitBudget: '2s' },
    }),
    field: 'spec.store.waitBudget',
    says: 'must be between 1ms and 1s',
  },
  {
    name: 'rejects a budget that limits neither dollars nor tokens',
    manifest: rateLimitPolicy({ budgets: [{ name: 'monthly', period: 'Month' }] }),
    field: 'spec.budgets[0].usd',
    says: 'set usd, tokens or both',
  },
  {
    name: 'rejects a budget of zero dollars',
    manifest: rateLimitPolicy({ budgets: [{ name: 'monthly', period: 'Month', usd: '0.00' }] }),
    field: 'spec.budgets[0].usd',
    says: 'must be greater than 0',
  },
  {
    name: 'rejects a dollar amount with more than six decimals',
    manifest: rateLimitPolicy({
      budgets: [{ name: 'monthly', period: 'Month', usd: '0.0000001' }],
    }),
    field: 'spec.budgets[0].usd',
    says: 'should match',
  },
  {
    name: 'rejects a budget period other than Day, Week or Month',
    manifest: rateLimitPolicy({ budgets: [{ name: 'yearly', period: 'Year', tokens: 1000 }] }),
    field: 'spec.budgets[0].period',
    says: 'Unsupported value: "Year"',
  },
  {
    name: 'rejects a budget name that is not a DNS label',
    manifest: rateLimitPolicy({ budgets: [{ name: 'Monthly', period: 'Month', tokens: 1000 }] }),
    field: 'spec.budgets[0].name',
    says: 'should match',
  },
  {
    name: 'rejects a team budget (per Policy) on a Redis Cluster with each agent its own keys',
    manifest: rateLimitPolicy({
      scope: 'Cluster',
      store: { redis: { cluster: { addresses: ['redis-0:6379'] } } },
      budgets: [{ name: 'team', period: 'Month', usd: '2000', per: 'Policy' }],
    }),
    field: 'spec.store.sharing',
    says: 'needs store.sharing AllAgents',
  },
  {
    name: 'rejects two budgets of one name',
    manifest: rateLimitPolicy({
      budgets: [
        { name: 'monthly', period: 'Month', tokens: 1000 },
        { name: 'monthly', period: 'Day', tokens: 10 },
      ],
    }),
    field: 'spec.budgets[1]',
    says: 'Duplicate value',
  },
  {
    name: 'rejects a token budget of zero',
    manifest: rateLimitPolicy({ budgets: [{ name: 'monthly', period: 'Month', tokens: 0 }] }),
    field: 'spec.budgets[0].tokens',
    says: 'greater than or equal to 1',
  },
  {
    name: 'rejects a warning above 100%',
    manifest: rateLimitPolicy({
      budgets: [{ name: 'monthly', period: 'Month', tokens: 1000, warnAtPercent: 101 }],
    }),
    field: 'spec.budgets[0].warnAtPercent',
    says: 'less than or equal to 100',
  },
  {
    name: 'rejects a wait for calls in flight longer than a minute',
    manifest: rateLimitPolicy({
      budgets: [{ name: 'monthly', period: 'Month', tokens: 1000, waitForHeld: '2m' }],
    }),
    field: 'spec.budgets[0].waitForHeld',
    says: 'must be between 0s and 1m',
  },
  {
    name: 'rejects a wait for calls in flight that is not a duration',
    manifest: rateLimitPolicy({
      budgets: [{ name: 'monthly', period: 'Month', tokens: 1000, waitForHeld: 'soon' }],
    }),
    field: 'spec.budgets[0].waitForHeld',
    says: 'should match',
  },
  {
    name: 'rejects a time zone that is not an IANA name',
    manifest: rateLimitPolicy({
      timeZone: '+02:00',
      budgets: [{ name: 'monthly', period: 'Month', tokens: 1000 }],
    }),
    field: 'spec.timeZone',
    says: 'should match',
  },
  // AgentDeployment
  {
    name: 'rejects a price that is not a decimal string',
    manifest: agent({
      pricing: [
        {
          model: FALLBACK_MODEL,
          inputPerMTok: '$1',
          outputPerMTok: '5',
          cacheWrite5mPerMTok: '1.25',
          cacheWrite1hPerMTok: '2',
          cacheReadPerMTok: '0.1',
        },
      ],
    }),
    field: 'spec.pricing[0].inputPerMTok',
    says: 'should match',
  },
  {
    name: 'rejects a price without its cache read price',
    manifest: agent({
      pricing: [
        {
          model: FALLBACK_MODEL,
          inputPerMTok: '1',
          outputPerMTok: '5',
          cacheWrite5mPerMTok: '1.25',
          cacheWrite1hPerMTok: '2',
        },
      ],
    }),
    field: 'spec.pricing[0].cacheReadPerMTok',
    says: 'Required value',
  },
  {
    name: 'rejects an agent without a model',
    manifest: agent({ model: undefined }),
    field: 'spec.model',
    says: 'Required value',
  },
  {
    name: 'rejects minReplicas above maxReplicas',
    manifest: agent({
      autoscaling: { minReplicas: 5, maxReplicas: 3, targetCPUUtilizationPercentage: 70 },
    }),
    field: 'spec.autoscaling.minReplicas',
    says: 'minReplicas must not exceed maxReplicas',
  },
  {
    name: 'rejects replicas together with autoscaling',
    manifest: agent({
      replicas: 2,
      autoscaling: { maxReplicas: 3, targetCPUUtilizationPercentage: 70 },
    }),
    field: 'spec.replicas',
    says: 'set replicas or autoscaling, not both',
  },
  {
    name: 'rejects a drain delay the grace period does not outlast',
    manifest: agent({ terminationGracePeriodSeconds: 5 }),
    field: 'spec.terminationDrainDuration',
    says: 'terminationDrainDuration must be shorter than terminationGracePeriodSeconds',
  },
  {
    name: 'rejects a drain delay above five minutes',
    manifest: agent({ terminationDrainDuration: '6m' }),
    field: 'spec.terminationDrainDuration',
    says: 'must be at most 5m',
  },
  {
    name: 'rejects a CPU target above 100 percent',
    manifest: agent({ autoscaling: { maxReplicas: 3, targetCPUUtilizationPercentage: 150 } }),
    field: 'spec.autoscaling.targetCPUUtilizationPercentage',
    says: 'less than or equal to 100',
  },
  {
    name: 'rejects autoscaling without a utilisation target',
    manifest: agent({ autoscaling: { maxReplicas: 3 } }),
    field: 'spec.autoscaling.targetCPUUtilizationPercentage',
    says: 'set targetCPUUtilizationPercentage, targetMemoryUtilizationPercentage or both',
  },
  {
    name: 'rejects a negative replica count',
    manifest: agent({ replicas: -1 }),
    field: 'spec.replicas',
    says: 'greater than or equal to 0',
  },
  {
    name: 'rejects a temperature above 1',
    manifest: agent({ model: { name: FALLBACK_MODEL, temperature: 1.5 } }),
    field: 'spec.model.temperature',
    says: 'less than or equal to 1',
  },
  {
    name: 'rejects a fallback that repeats the primary model',
    manifest: agent({
      model: { name: FALLBACK_MODEL, fallbacks: [PRIMARY_MODEL, FALLBACK_MODEL] },
    }),
    field: 'spec.model.fallbacks',
    says: 'fallbacks must not include the primary model',
  },
  {
    name: 'rejects systemPrompt together with systemPromptFrom',
    manifest: agent({
      systemPrompt: 'Be brief.',
      systemPromptFrom: { configMapKeyRef: { name: 'prompts', key: 'assistant.md' } },
    }),
    field: 'spec.systemPromptFrom',
    says: 'set systemPrompt or systemPromptFrom, not both',
  },
  {
    name: 'rejects a provider key reference without a key',
    manifest: agent({ provider: { apiKeySecretRef: { name: 'llm-provider-key' } } }),
    field: 'spec.provider.apiKeySecretRef.key',
    says: 'Required value',
  },
  {
    name: 'rejects a provider baseURL that is not http or https',
    manifest: agent({
      provider: {
        apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' },
        baseURL: 'ftp://api.example.com',
      },
    }),
    field: 'spec.provider.baseURL',
    says: 'should match',
  },
  {
    name: 'rejects a load-balancing strategy it does not know',
    manifest: agent({ loadBalancing: 'Fastest' }),
    field: 'spec.loadBalancing',
    says: 'Unsupported value: "Fastest"',
  },
  {
    name: 'rejects more than 16 backends',
    manifest: agent({
      backends: Array.from({ length: 17 }, (_, i) => ({
        name: `b${i}`,
        baseURL: 'https://api.anthropic.com',
      })),
    }),
    field: 'spec.backends',
    says: 'must have at most 16 items',
  },
  {
    name: 'rejects a Bedrock backend without a region',
    manifest: agent({ backends: [bedrock({ region: undefined })] }),
    field: 'spec.backends[0].region',
    says: 'a Bedrock or Vertex backend needs region',
  },
  {
    name: 'rejects a Vertex backend without a projectID',
    manifest: agent({ backends: [vertex({ projectID: undefined })] }),
    field: 'spec.backends[0].projectID',
    says: 'a Vertex backend needs projectID',
  },
  {
    name: 'rejects a Bedrock backend whose models do not map spec.model.name',
    manifest: agent({
      backends: [bedrock({ models: { [PRIMARY_MODEL]: `us.anthropic.${PRIMARY_MODEL}-v1:0` } })],
    }),
    field: 'spec.backends',
    says: 'must map spec.model.name and each of spec.model.fallbacks to its model ID in backends[].models',
  },
  {
    name: 'rejects a Bedrock backend that maps the model but not a fallback',
    manifest: agent({
      model: { name: FALLBACK_MODEL, fallbacks: [PRIMARY_MODEL] },
      backends: [bedrock({})],
    }),
    field: 'spec.backends',
    says: 'backends[].models',
  },
  {
    name: 'rejects an apiKeySecretRef on a Bedrock backend',
    manifest: agent({
      backends: [bedrock({ apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } })],
    }),
    field: 'spec.backends[0].apiKeySecretRef',
    says: 'apiKeySecretRef is for Anthropic backends',
  },
  {
    name: 'rejects an Anthropic backend without a baseURL',
    manifest: agent({ backends: [{ name: 'anthropic' }] }),
    field: 'spec.backends[0].baseURL',
    says: 'an Anthropic backend needs baseURL',
  },
  {
    name: 'rejects two tools with the same name',
    manifest: agent({ tools: [tool('lookup_order'), tool('lookup_order')] }),
    field: 'spec.tools[1]',
    says: 'Duplicate value',
  },
  {
    name: 'rejects a tool name the model API would refuse',
    manifest: agent({ tools: [tool('look up order')] }),
    field: 'spec.tools[0].name',
    says: 'should match',
  },
  {
    name: 'rejects a model-call timeout of 0s',
    manifest: agent({ timeout: '0s' }),
    field: 'spec.timeout',
    says: 'must be between 1s and 30m',
  },
  {
    name: 'rejects more than 10 attempts per call',
    manifest: agent({ retry: { maxAttempts: 11 } }),
    field: 'spec.retry.maxAttempts',
    says: 'less than or equal to 10',
  },
  {
    name: 'rejects a back-off maxDelay shorter than initialDelay',
    manifest: agent({ retry: { backoff: { initialDelay: '10s', maxDelay: '1s' } } }),
    field: 'spec.retry.backoff.maxDelay',
    says: 'maxDelay must be at least initialDelay',
  },
  {
    name: 'rejects an environment variable with both value and valueFrom',
    manifest: agent({
      env: [
        {
          name: 'TOKEN',
          value: 'x',
          valueFrom: { secretKeyRef: { name: 'token', key: 'value' } },
        },
      ],
    }),
    field: 'spec.env[0].valueFrom',
    says: 'set value or valueFrom, not both',
  },
  {
    name: 'rejects a pod label that would hijack breakwater.dev/agent',
    manifest: agent({ podTemplate: { labels: { 'breakwater.dev/agent': 'someone-else' } } }),
    field: 'spec.podTemplate.labels',
    says: 'breakwater.dev/agent is set by the operator',
  },
  {
    name: 'rejects a resource quantity that is not a quantity',
    manifest: agent({ resources: { limits: { cpu: 'lots' } } }),
    field: 'spec.resources.limits.cpu',
    says: 'should match',
  },
  {
    name: 'rejects a promptInjection mode it does not know',
    manifest: agent({ security: { promptInjection: 'Warn' } }),
    field: 'spec.security.promptInjection',
    says: 'Unsupported value: "Warn"',
  },
  {
    name: 'rejects an agent name longer than 56 characters',
    manifest: agent({}, `agent-${'x'.repeat(51)}`),
    field: 'metadata.name',
    says: 'may not be more than 56 bytes',
  },
  {
    name: 'rejects an agent name that is not a DNS label',
    manifest: agent({}, 'support.agent'),
    field: 'metadata.name',
    says: 'should match',
  },
  {
    name: 'rejects a field the API does not have',
    manifest: agent({ replicaCount: 3 }),
    field: 'spec.replicaCount',
    says: 'unknown field',
  },
];
