/**
 * The runtime's own Prometheus metrics (the guard registers the breaker, limiter and bulkhead
 * ones). LLM latency buckets reach minutes: a long generation is normal, not an outlier.
 * Those counted on every request are tallies (tally.ts): prom-client's names, types and
 * exposition, counted without its per-call label hashing, with a bound on series.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { GenAiMetrics } from './genAiMetrics.ts';
import { TallyCounter, TallyHistogram } from './tally.ts';

const LLM_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const TOOL_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TOKEN_BUCKETS = [16, 64, 256, 1024, 4096, 16_384, 65_536, 200_000];

/** The provider headroom per backend, 0..1 (provider/providerHeadroom.ts). */
export interface HeadroomSource {
  ratios(): ReadonlyMap<string, number>;
}

export class RuntimeMetrics {
  readonly registry: Registry;
  readonly requests: TallyCounter<'route' | 'model'>;
  readonly requestsFailed: TallyCounter<'route' | 'model' | 'status' | 'error_type'>;
  readonly inFlight: Gauge;
  readonly llmLatency: TallyHistogram<'model' | 'backend' | 'outcome'>;
  readonly llmTokens: TallyHistogram<'model' | 'direction'>;
  readonly llmAttempts: TallyCounter<'model' | 'backend' | 'outcome'>;
  readonly fallbacks: TallyCounter<'from' | 'to'>;
  readonly toolCalls: TallyCounter<'server' | 'tool' | 'status'>;
  readonly toolLatency: TallyHistogram<'server' | 'tool'>;
  readonly loopsDetected: TallyCounter<'tool' | 'mode'>;
  readonly policyReloads: Counter<'result' | 'source'>;
  readonly policyInfo: Gauge<'hash'>;
  readonly modelEndOfLife: Gauge<'model'>;
  readonly cacheRequests: TallyCounter<'result'>;
  readonly inputTokens: TallyCounter<'backend' | 'kind'>;
  readonly cacheAffinity: TallyCounter<'result'>;
  readonly cacheAffinityPins: Gauge;
  #pins: (() => number) | undefined;
  readonly securityIncidents: Counter<'kind' | 'action'>;
  readonly authFailures: Counter<'reason'>;
  readonly providerHeadroom: Gauge<'backend'>;
  #headroom: HeadroomSource | undefined;

  /** OpenTelemetry's GenAI metrics of every model call (genAiMetrics.ts). */
  readonly genAi: GenAiMetrics;

  constructor(registry = new Registry(), { defaults = true, genAiLatest = false } = {}) {
    this.registry = registry;
    const registers = [registry];
    this.genAi = new GenAiMetrics(registry, { latest: genAiLatest });

    if (defaults) collectDefaultMetrics({ register: registry });
    this.requests = new TallyCounter({
      name: 'agent_requests_total',
      help: 'Requests answered, by route and requested model: each once, when its answer ends.',
      labelNames: ['route', 'model'],
      registers,
    });
    this.requestsFailed = new TallyCounter({
      name: 'agent_requests_failed_total',
      help: 'Requests answered with an error, by route, model, HTTP status and error type.',
      labelNames: ['route', 'model', 'status', 'error_type'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'agent_requests_in_flight',
      help: 'Requests being served now.',
      registers,
    });
    this.llmLatency = new TallyHistogram({
      name: 'agent_llm_request_duration_seconds',
      help: 'Duration of each provider attempt, by model, backend and outcome.',
      labelNames: ['model', 'backend', 'outcome'],
      buckets: LLM_LATENCY_BUCKETS,
      registers,
    });
    this.llmTokens = new TallyHistogram({
      name: 'agent_llm_tokens',
      help: 'Tokens per model call, by direction (input, output).',
      labelNames: ['model', 'direction'],
      buckets: TOKEN_BUCKETS,
      registers,
    });
    this.llmAttempts = new TallyCounter({
      name: 'agent_llm_attempts_total',
      help: 'Provider attempts, by model, backend and outcome class.',
      labelNames: ['model', 'backend', 'outcome'],
      registers,
    });
    this.fallbacks = new TallyCounter({
      name: 'agent_fallbacks_total',
      help: 'Requests served by a fallback model.',
      labelNames: ['from', 'to'],
      registers,
    });
    this.toolCalls = new TallyCounter({
      name: 'agent_tool_calls_total',
      help: 'Tool calls, by MCP server (empty for HTTP tools), tool and status (success, error, timeout, rejected).',
      labelNames: ['server', 'tool', 'status'],
      registers,
    });
    this.toolLatency = new TallyHistogram({
      name: 'agent_tool_latency_seconds',
      help: 'Tool call duration, by MCP server (empty for HTTP tools) and tool.',
      labelNames: ['server', 'tool'],
      buckets: TOOL_LATENCY_BUCKETS,
      registers,
    });
    this.loopsDetected = new TallyCounter({
      name: 'agent_loops_detected_total',
      help: 'Agent runs found looping (the same tool call repeated, or a cycle of calls), by tool and mode (Enforce: stopped; Shadow: reported).',
      labelNames: ['tool', 'mode'],
      registers,
    });
    this.policyReloads = new Counter({
      name: 'breakwater_policy_reloads_total',
      help: 'Policy documents offered, by result (applied, unchanged, rejected) and source.',
      labelNames: ['result', 'source'],
      registers,
    });
    this.policyInfo = new Gauge({
      name: 'breakwater_policy_info',
      help: 'The policy in force: 1 for its hash.',
      labelNames: ['hash'],
      registers,
    });
    this.modelEndOfLife = new Gauge({
      name: 'breakwater_model_end_of_life_timestamp_seconds',
      help: 'End of life of each deprecated model the agent runs, primary or fallback, in Unix seconds: from then on the provider refuses calls to it. No series for a model nobody deprecated.',
      labelNames: ['model'],
      registers,
    });
    this.cacheRequests = new TallyCounter({
      name: 'agent_cache_requests_total',
      help: 'Response cache lookups of the requests it can serve (temperature 0, not streamed, no tools), by result (hit, miss).',
      labelNames: ['result'],
      registers,
    });
    this.inputTokens = new TallyCounter({
      name: 'agent_llm_input_tokens_total',
      help: 'Input tokens of served model calls, by backend and kind: uncached, cache_read (read from the prompt cache), cache_write (written to it). The share read from cache is cache_read over the sum.',
      labelNames: ['backend', 'kind'],
      registers,
    });
    this.cacheAffinity = new TallyCounter({
      name: 'agent_cache_affinity_total',
      help: 'Calls with a prompt-cache key (a cache_control breakpoint or a named session), by how they relate to their pin: new, pinned (served where their cache is), moved (their backend failed), failback (back to the backend they left, its copy expired).',
      labelNames: ['result'],
      registers,
    });
    const pins = (): number => this.#pins?.() ?? 0;
    this.cacheAffinityPins = new Gauge({
      name: 'agent_cache_affinity_pins',
      help: "Conversations this replica holds a prompt-cache pin for (bounded; the store's are not counted).",
      registers,
      collect() {
        this.set(pins());
      },
    });
    this.securityIncidents = new Counter({
      name: 'agent_security_incidents_total',
      help: 'Suspected prompt injections, by kind and action taken (flagged, blocked).',
      labelNames: ['kind', 'action'],
      registers,
    });
    // Read at scrape time, so a quota the provider said is whole again by now shows as 1
    // without waiting for the next call.
    const headroom = (): HeadroomSource | undefined => this.#headroom;
    this.providerHeadroom = new Gauge({
      name: 'breakwater_provider_headroom_ratio',
      help: "The provider quota left, 0 to 1, per backend: the tightest of the anthropic-ratelimit-* limits on its latest answer (0 after a 429, until its retry-after); 1 again once the provider's reset time has passed. No series before the provider has reported a limit.",
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        for (const [backend, ratio] of headroom()?.ratios() ?? []) this.set({ backend }, ratio);
      },
    });
    this.authFailures = new Counter({
      name: 'agent_auth_failures_total',
      help: 'Requests refused for a missing, wrong or ambiguous client key.',
      labelNames: ['reason'],
      registers,
    });
  }

  /** Where `agent_cache_affinity_pins` reads from. */
  trackPins(size: () => number): void {
    this.#pins = size;
  }

  /** Where `breakwater_provider_headroom_ratio` reads from. */
  trackHeadroom(headroom: HeadroomSource): void {
    this.#headroom = headroom;
  }
}
