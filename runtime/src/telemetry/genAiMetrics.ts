/**
 * The GenAI conventions' metrics of every model call (genAiConventions.ts): token usage and
 * operation duration per attempt, and for a relayed stream the time to its first token and
 * per output token after it. They are counted once, in tallies (tally.ts): /metrics shows them
 * under the names the OpenTelemetry Prometheus exporter gives them (dots to underscores,
 * `_seconds` for `s`, `{token}` dropped), and with an OTLP endpoint the exporter reads the same
 * counts under the conventions' own names (`otlpHistograms`, otlpMetrics.ts). A call costs a
 * few map lookups, whether or not OTLP is on: the series a kind of call lands in (its peer,
 * models and error type) are found once per kind and kept (CallSeries), not looked up by
 * their seven labels for each of its three to five histograms. Recording each value on the
 * SDK's meter as well cost a call as much as its two spans (issue 52's bench).
 */
import type { Attributes } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type { ResponseMeta } from '../provider/responseMeta.ts';
import type { Usage } from '../provider/usage.ts';
import {
  CHAT,
  inputTokensOf,
  ownString,
  OPERATION_DURATION_BUCKETS,
  TIME_PER_OUTPUT_TOKEN_BUCKETS,
  TIME_TO_FIRST_TOKEN_BUCKETS,
  TOKEN_USAGE_BUCKETS,
  type GenAiPeer,
} from './genAiConventions.ts';
import type { BucketCounts } from './bucketCounts.ts';
import { MAX_SERIES, TallyHistogram } from './tally.ts';

/** One model-call attempt, as the metrics need it. */
export interface ChatAttempt {
  readonly requestModel: string;
  readonly peer: GenAiPeer;
  readonly durationMs: number;
  /** The failure's class (the guard's outcome); undefined for a success. */
  readonly errorType: string | undefined;
  readonly response?: ResponseMeta | undefined;
  /** The answer's usage; undefined for a failure. */
  readonly usage?: Usage | undefined;
  /** For a stream: milliseconds from the attempt's start to its first event. */
  readonly firstEventMs?: number | undefined;
}

type Common =
  | 'gen_ai_operation_name'
  | 'gen_ai_provider_name'
  | 'gen_ai_request_model'
  | 'gen_ai_response_model'
  | 'server_address'
  | 'server_port';

const COMMON: readonly Common[] = [
  'gen_ai_operation_name',
  'gen_ai_provider_name',
  'gen_ai_request_model',
  'gen_ai_response_model',
  'server_address',
  'server_port',
];

type Labels = Record<Common | 'gen_ai_token_type' | 'error_type', string>;

/** Each instrument: its OTel name, unit, description and buckets; its Prometheus name follows. */
const INSTRUMENTS = {
  tokenUsage: {
    name: 'gen_ai.client.token.usage',
    prometheus: 'gen_ai_client_token_usage',
    unit: '{token}',
    help: 'Tokens per model call by gen_ai_token_type (input counts cache reads and writes too), as the OpenTelemetry GenAI conventions define it.',
    buckets: TOKEN_USAGE_BUCKETS,
  },
  operationDuration: {
    name: 'gen_ai.client.operation.duration',
    prometheus: 'gen_ai_client_operation_duration_seconds',
    unit: 's',
    help: 'Duration of each model-call attempt, with error_type when it failed, as the OpenTelemetry GenAI conventions define it.',
    buckets: OPERATION_DURATION_BUCKETS,
  },
  timeToFirstToken: {
    name: 'gen_ai.server.time_to_first_token',
    prometheus: 'gen_ai_server_time_to_first_token_seconds',
    unit: 's',
    help: 'Time from a streamed attempt being sent to its first event, for the streams the runtime relays whole.',
    buckets: TIME_TO_FIRST_TOKEN_BUCKETS,
  },
  timePerOutputToken: {
    name: 'gen_ai.server.time_per_output_token',
    prometheus: 'gen_ai_server_time_per_output_token_seconds',
    unit: 's',
    help: 'Time per output token after the first, for the streams the runtime relays whole.',
    buckets: TIME_PER_OUTPUT_TOKEN_BUCKETS,
  },
  // Emitted only under OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental.
  timeToFirstChunk: {
    name: 'gen_ai.client.operation.time_to_first_chunk',
    prometheus: 'gen_ai_client_operation_time_to_first_chunk_seconds',
    unit: 's',
    help: 'Time from a streamed attempt being sent to its first chunk (only under OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental).',
    buckets: TIME_TO_FIRST_TOKEN_BUCKETS,
  },
  timePerOutputChunk: {
    name: 'gen_ai.client.operation.time_per_output_chunk',
    prometheus: 'gen_ai_client_operation_time_per_output_chunk_seconds',
    unit: 's',
    help: 'Time per output token after the first chunk of a streamed attempt (only under OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental).',
    buckets: TIME_PER_OUTPUT_TOKEN_BUCKETS,
  },
} as const;

type Name = keyof typeof INSTRUMENTS;

/** One instrument's series as an OTLP histogram needs them: its conventions' name and attributes. */
export interface OtlpHistogram {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly points: readonly { readonly attributes: Attributes; readonly counts: BucketCounts }[];
}

export class GenAiMetrics {
  readonly #tallies: Partial<Record<Name, TallyHistogram<string>>> = {};
  readonly #latest: boolean;
  /** CallSeries by peer, request model, response model and error type. */
  readonly #kinds = new WeakMap<GenAiPeer, Map<string, Map<string, Map<string, CallSeries>>>>();
  #kindCount = 0;

  constructor(registry: Registry, { latest = false }: { latest?: boolean } = {}) {
    this.#latest = latest;
    for (const name of this.#names()) {
      const spec = INSTRUMENTS[name];
      const labelNames: string[] = [...COMMON];
      if (name === 'tokenUsage') labelNames.push('gen_ai_token_type');
      if (name === 'operationDuration') labelNames.push('error_type');
      this.#tallies[name] = new TallyHistogram({
        name: spec.prometheus,
        help: spec.help,
        labelNames,
        buckets: spec.buckets,
        registers: [registry],
      });
    }
  }

  /** Every instrument's series under the conventions' names, for the OTLP exporter. */
  otlpHistograms(): OtlpHistogram[] {
    return this.#names().map((name) => {
      const spec = INSTRUMENTS[name];
      return {
        name: spec.name,
        unit: spec.unit,
        description: spec.help,
        points: (this.#tallies[name]?.series() ?? []).map((s) => ({
          attributes: otelAttributes(s.labels as Labels, name),
          counts: s.value,
        })),
      };
    });
  }

  record(attempt: ChatAttempt): void {
    const series = this.#seriesOf(attempt);
    series.observe('operationDuration', '', attempt.durationMs / 1000);
    const usage = attempt.usage;
    if (usage === undefined) return;
    series.observe('tokenUsage', 'input', inputTokensOf(usage));
    series.observe('tokenUsage', 'output', usage.output_tokens);
    const first = attempt.firstEventMs;
    if (first === undefined) return;
    series.observe('timeToFirstToken', '', first / 1000);
    if (this.#latest) series.observe('timeToFirstChunk', '', first / 1000);
    if (usage.output_tokens > 1) {
      const perToken = (attempt.durationMs - first) / 1000 / (usage.output_tokens - 1);
      series.observe('timePerOutputToken', '', perToken);
      if (this.#latest) series.observe('timePerOutputChunk', '', perToken);
    }
  }

  /**
   * The series of the attempt's kind: by its peer (one object a backend), request model,
   * response model and error type. Kept for up to MAX_SERIES kinds (each instrument's tally
   * holds no more series than that); past them a kind's series are looked up each time.
   */
  #seriesOf(attempt: ChatAttempt): CallSeries {
    const { peer, requestModel } = attempt;
    const answered = attempt.response?.model ?? '';
    const errorType = attempt.errorType ?? '';
    const kept = this.#kinds.get(peer)?.get(requestModel)?.get(answered)?.get(errorType);
    if (kept !== undefined) return kept;
    // Kept as long as the process: a string of its own, not a view of the answer's text.
    const responseModel = ownString(answered);
    const series = new CallSeries(this.#tallies, {
      gen_ai_operation_name: CHAT,
      gen_ai_provider_name: peer.provider,
      gen_ai_request_model: requestModel,
      gen_ai_response_model: responseModel,
      server_address: peer.address,
      server_port: peer.port,
      gen_ai_token_type: '',
      error_type: errorType,
    });
    if (this.#kindCount >= MAX_SERIES) return series;
    this.#kindCount++;
    let byRequest = this.#kinds.get(peer);
    if (byRequest === undefined)
      this.#kinds.set(peer, (byRequest = new Map<string, Map<string, Map<string, CallSeries>>>()));
    let byResponse = byRequest.get(requestModel);
    if (byResponse === undefined)
      byRequest.set(requestModel, (byResponse = new Map<string, Map<string, CallSeries>>()));
    let byError = byResponse.get(responseModel);
    if (byError === undefined)
      byResponse.set(responseModel, (byError = new Map<string, CallSeries>()));
    byError.set(errorType, series);
    return series;
  }

  #names(): Name[] {
    const names: Name[] = [
      'tokenUsage',
      'operationDuration',
      'timeToFirstToken',
      'timePerOutputToken',
    ];
    if (this.#latest) names.push('timeToFirstChunk', 'timePerOutputChunk');
    return names;
  }
}

/**
 * The series one kind of call lands in, each found in its tally the first time a call of the
 * kind records in it (so a series exists only once something is counted in it, as when each
 * value was looked up), then kept: the token usage's by token type.
 */
class CallSeries {
  readonly #tallies: Partial<Record<Name, TallyHistogram<string>>>;
  readonly #labels: Labels;
  readonly #found = new Map<string, BucketCounts | undefined>();

  constructor(tallies: Partial<Record<Name, TallyHistogram<string>>>, labels: Labels) {
    this.#tallies = tallies;
    this.#labels = labels;
  }

  observe(name: Name, tokenType: string, value: number): void {
    const key = tokenType === '' ? name : tokenType;
    let counts = this.#found.get(key);
    if (counts === undefined) {
      const tally = this.#tallies[name];
      if (tally === undefined) return;
      counts = tally.seriesOf({ ...this.#labels, gen_ai_token_type: tokenType });
      this.#found.set(key, counts);
    }
    counts.observe(value);
  }
}

/**
 * The labels `name` has, under the conventions' attribute names, an empty one left out (a
 * series' labels hold only its instrument's names: a missing one reads as empty).
 */
function otelAttributes(labels: Partial<Labels>, name: Name): Attributes {
  const attributes: Attributes = {
    'gen_ai.operation.name': labels.gen_ai_operation_name ?? CHAT,
    'gen_ai.provider.name': labels.gen_ai_provider_name ?? '',
    'gen_ai.request.model': labels.gen_ai_request_model ?? '',
  };
  const given = (value: string | undefined): value is string => value !== undefined && value !== '';
  if (given(labels.gen_ai_response_model))
    attributes['gen_ai.response.model'] = labels.gen_ai_response_model;
  if (given(labels.server_address)) {
    attributes['server.address'] = labels.server_address;
    attributes['server.port'] = Number(labels.server_port);
  }
  if (name === 'tokenUsage' && given(labels.gen_ai_token_type))
    attributes['gen_ai.token.type'] = labels.gen_ai_token_type;
  if (name === 'operationDuration' && given(labels.error_type))
    attributes['error.type'] = labels.error_type;
  return attributes;
}
