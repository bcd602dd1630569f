import { PROVIDERS, type Provider } from './provider.ts';

/**
 * Counters for `GET /_sim/stats`: Messages requests seen and how each ended, in total and per
 * provider wire format (`byProvider`). Outcomes are
 * `ok`, `error_<status>` (whatever produced it: validation, budget or an injected fault),
 * `dropped`, `hung`, and `client_closed` when the client left before the answer was sent;
 * for a stream that an `inStream` fault broke after its 200, `stream_error_before_content`,
 * `stream_error_after_content` (an SSE `error` event), `stream_stalled` and `stream_dropped`.
 */

const ALWAYS_SHOWN = [
  'ok',
  'dropped',
  'hung',
  'stream_error_before_content',
  'stream_error_after_content',
  'stream_stalled',
  'stream_dropped',
] as const;

export type Outcome = (typeof ALWAYS_SHOWN)[number] | 'client_closed' | `error_${number}`;

export interface StatsSnapshot {
  readonly requests: number;
  readonly byOutcome: Readonly<Record<string, number>>;
  /** Successful streamed answers. */
  readonly streamed: number;
  /** Tokens of successful answers. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Messages requests open now (answer still being written), and the most ever at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** The same requests split by the wire format they came in: Anthropic, Bedrock, Vertex. */
  readonly byProvider: Readonly<Record<Provider, ProviderStatsSnapshot>>;
}

export interface ProviderStatsSnapshot {
  readonly requests: number;
  readonly byOutcome: Readonly<Record<string, number>>;
}

/** What a request handler records, counted in the totals and under its provider. */
export interface RequestRecorder {
  recordRequest(): void;
  recordOutcome(outcome: Outcome): void;
  recordSuccess(usage: { inputTokens: number; outputTokens: number }, streamed: boolean): void;
}

export class SimulatorStats {
  #requests = 0;
  #byOutcome = new Map<string, number>();
  #streamed = 0;
  #inputTokens = 0;
  #outputTokens = 0;
  #inFlight = 0;
  #maxInFlight = 0;
  #providers = new Map<Provider, { requests: number; byOutcome: Map<string, number> }>();

  /** A recorder that counts in the totals and under `provider`. */
  forProvider(provider: Provider): RequestRecorder {
    const counts = () => {
      let entry = this.#providers.get(provider);
      if (entry === undefined) {
        entry = { requests: 0, byOutcome: new Map() };
        this.#providers.set(provider, entry);
      }
      return entry;
    };
    const countOutcome = (outcome: Outcome) => {
      const { byOutcome } = counts();
      byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    };
    return {
      recordRequest: () => {
        this.recordRequest();
        counts().requests += 1;
      },
      recordOutcome: (outcome) => {
        this.recordOutcome(outcome);
        countOutcome(outcome);
      },
      recordSuccess: (usage, streamed) => {
        this.recordSuccess(usage, streamed);
        countOutcome('ok');
      },
    };
  }

  enter(): void {
    this.#inFlight += 1;
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
  }

  leave(): void {
    this.#inFlight -= 1;
  }

  recordRequest(): void {
    this.#requests += 1;
  }

  recordOutcome(outcome: Outcome): void {
    this.#byOutcome.set(outcome, (this.#byOutcome.get(outcome) ?? 0) + 1);
  }

  recordSuccess(usage: { inputTokens: number; outputTokens: number }, streamed: boolean): void {
    this.recordOutcome('ok');
    this.#inputTokens += usage.inputTokens;
    this.#outputTokens += usage.outputTokens;
    if (streamed) this.#streamed += 1;
  }

  snapshot(): StatsSnapshot {
    const byOutcome: Record<string, number> = {};
    for (const outcome of ALWAYS_SHOWN) byOutcome[outcome] = 0;
    for (const [outcome, n] of this.#byOutcome) byOutcome[outcome] = n;
    return {
      requests: this.#requests,
      byOutcome,
      streamed: this.#streamed,
      inputTokens: this.#inputTokens,
      outputTokens: this.#outputTokens,
      inFlight: this.#inFlight,
      maxInFlight: this.#maxInFlight,
      byProvider: Object.fromEntries(
        PROVIDERS.map((provider) => {
          const entry = this.#providers.get(provider);
          const outcomes: Record<string, number> = {};
          for (const outcome of ALWAYS_SHOWN) outcomes[outcome] = 0;
          for (const [outcome, n] of entry?.byOutcome ?? []) outcomes[outcome] = n;
          return [provider, { requests: entry?.requests ?? 0, byOutcome: outcomes }];
        }),
      ) as Record<Provider, ProviderStatsSnapshot>,
    };
  }

  reset(): void {
    this.#requests = 0;
    this.#byOutcome.clear();
    this.#streamed = 0;
    this.#inputTokens = 0;
    this.#outputTokens = 0;
    this.#providers.clear();
    // What is open stays counted; the high-water mark starts again from it.
    this.#maxInFlight = this.#inFlight;
  }
}
