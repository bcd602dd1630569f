/**
 * One agent that uses every reference the API has, and the objects it refers to: the corpus on
 * which every policy source must resolve the same document (policyGather.test.ts, and
 * test/operator/everySource.test.ts through the real operator and runtime). Its policy sets
 * budgets in a time zone and the agent prices its models, so what an agent may spend goes
 * through every source too.
 */
import type { AgentDeployment, CircuitBreakerPolicy, RateLimitPolicy } from '../api/resources.ts';
import { GROUP_VERSION } from '../api/resources.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../api/sampleModels.ts';

export const CORPUS_AGENT = 'every-reference';

export interface CorpusEndpoints {
  /** The Anthropic-compatible API the agent's backends call. */
  readonly providerURL: string;
  /** The MCP server's Streamable HTTP endpoint. */
  readonly mcpURL: string;
}

interface PlainObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
}

export interface Corpus {
  readonly agent: AgentDeployment;
  readonly agentBreaker: CircuitBreakerPolicy;
  /** The MCP server's own breaker: three failures open it, not the default five. */
  readonly toolBreaker: CircuitBreakerPolicy;
  readonly rateLimit: RateLimitPolicy;
  readonly prompt: PlainObject;
  readonly secrets: readonly PlainObject[];
}

const secret = (name: string, stringData: Record<string, string>): PlainObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name },
  stringData,
});

export function everyReferenceCorpus(at: CorpusEndpoints): Corpus {
  return {
    agent: {
      apiVersion: GROUP_VERSION,
      kind: 'AgentDeployment',
      metadata: { name: CORPUS_AGENT },
      spec: {
        model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
        systemPromptFrom: { configMapKeyRef: { name: 'corpus-prompt', key: 'prompt.txt' } },
        provider: {
          baseURL: at.providerURL,
          apiKeySecretRef: { name: 'corpus-provider-key', key: 'api-key' },
        },
        backends: [
          { name: 'primary', baseURL: at.providerURL },
          {
            name: 'secondary',
            baseURL: at.providerURL,
            priority: 1,
            apiKeySecretRef: { name: 'corpus-secondary-key', key: 'token' },
          },
          {
            name: 'bedrock',
            type: 'Bedrock',
            region: 'us-east-1',
            baseURL: at.providerURL,
            priority: 2,
            credentialsSecretRef: { name: 'corpus-aws' },
            models: {
              [PRIMARY_MODEL]: `anthropic.${PRIMARY_MODEL}-v1:0`,
              [FALLBACK_MODEL]: `anthropic.${FALLBACK_MODEL}-v1:0`,
            },
          },
        ],
        mcpServers: [
          {
            name: 'notes',
            url: at.mcpURL,
            tools: ['echo', 'flaky'],
            headersSecretRef: { name: 'corpus-mcp-headers' },
            circuitBreakerPolicyRef: { name: 'corpus-tool-breaker' },
          },
        ],
        circuitBreakerPolicyRef: { name: 'corpus-agent-breaker' },
        rateLimitPolicyRef: { name: 'corpus-limits' },
        access: { clientKeysSecretRef: { name: 'corpus-client-keys' } },
        durability: {
          store: {
            redis: {
              sentinel: {
                masterName: 'corpus',
                addresses: ['redis-sentinel.corpus.svc:26379'],
                passwordSecretRef: { name: 'corpus-journal-store', key: 'sentinel-password' },
              },
              passwordSecretRef: { name: 'corpus-journal-store', key: 'password' },
              tls: { enabled: true, caSecretRef: { name: 'corpus-journal-store', key: 'ca.crt' } },
            },
          },
          retention: '6h',
          encryptionKeySecretRef: { name: 'corpus-journal-key', key: 'key' },
        },
        pricing: [
          {
            model: PRIMARY_MODEL,
            inputPerMTok: '3',
            outputPerMTok: '15',
            cacheWrite5mPerMTok: '3.75',
            cacheWrite1hPerMTok: '6',
            cacheReadPerMTok: '0.3',
          },
          {
            model: FALLBACK_MODEL,
            inputPerMTok: '0.8',
            outputPerMTok: '4',
            cacheWrite5mPerMTok: '1',
            cacheWrite1hPerMTok: '1.6',
            cacheReadPerMTok: '0.08',
          },
        ],
      },
    },
    agentBreaker: {
      apiVersion: GROUP_VERSION,
      kind: 'CircuitBreakerPolicy',
      metadata: { name: 'corpus-agent-breaker' },
      spec: { failureThreshold: 4, openDuration: '20s', loopDetection: { maxRepeats: 6 } },
    },
    toolBreaker: {
      apiVersion: GROUP_VERSION,
      kind: 'CircuitBreakerPolicy',
      metadata: { name: 'corpus-tool-breaker' },
      spec: { failureThreshold: 3, openDuration: '5m' },
    },
    rateLimit: {
      apiVersion: GROUP_VERSION,
      kind: 'RateLimitPolicy',
      metadata: { name: 'corpus-limits' },
      spec: {
        scope: 'PerReplica',
        requests: { perSecond: 50, burst: 100 },
        concurrency: { maxConcurrent: 20 },
        timeZone: 'Europe/Berlin',
        budgets: [
          { name: 'monthly', period: 'Month', usd: '500', tokens: 50_000_000 },
          {
            name: 'per-caller-daily',
            period: 'Day',
            usd: '20.125',
            per: 'ClientKey',
            onExhausted: 'Fallback',
            warnAtPercent: 90,
          },
        ],
      },
    },
    prompt: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'corpus-prompt' },
      data: { 'prompt.txt': 'You answer from the corpus.' },
    },
    secrets: [
      secret('corpus-provider-key', { 'api-key': 'sk-ant-corpus-primary' }),
      secret('corpus-secondary-key', { token: 'sk-ant-corpus-secondary' }),
      secret('corpus-aws', {
        AWS_ACCESS_KEY_ID: 'AKIACORPUS',
        AWS_SECRET_ACCESS_KEY: 'corpus-secret-access-key',
      }),
      secret('corpus-mcp-headers', { authorization: 'Bearer corpus' }),
      secret('corpus-client-keys', { caller: 'bw-corpus-client-key' }),
      secret('corpus-journal-key', { key: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=' }),
      secret('corpus-journal-store', {
        password: 'corpus-redis',
        'sentinel-password': 'corpus-sentinel',
        'ca.crt': 'corpus-ca',
      }),
    ],
  };
}

/** Every object of the corpus, the agent first. */
export function corpusObjects(corpus: Corpus): readonly object[] {
  return [
    corpus.agent,
    corpus.agentBreaker,
    corpus.toolBreaker,
    corpus.rateLimit,
    corpus.prompt,
    ...corpus.secrets,
  ];
}
