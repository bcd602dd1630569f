/**
 * The demo's callers: a steady stream of requests spread round-robin over the agent's ready
 * pods, each with a client timeout, and a count of how each one ended. Nothing is assumed:
 * a request is `lost` only when it got no answer (refused, reset, or still hanging at its
 * timeout), and every request sent is waited for before the counts are read.
 *
 * Two kinds of caller, as an application would have: three in four run the agent
 * (`POST /v1/agent/invoke`: the primary model, with the fallback model behind it), one in four
 * asks the Messages API for the fallback model directly. (Every pod gets both kinds: with three
 * pods in rotation, a period of four never lines up with a pod.)
 */
import { performance } from 'node:perf_hooks';
import { FALLBACK_MODEL } from '../contract/src/api/sampleModels.ts';
import type { AgentPod } from './agentPods.ts';

/** One request in this many goes straight to the Messages API. */
export const DIRECT_EVERY = 4;

export type Outcome = 'ok' | 'failedFast' | 'rejected' | 'failed' | 'lost';
export const OUTCOMES: readonly Outcome[] = ['ok', 'failedFast', 'rejected', 'failed', 'lost'];

export interface Tally {
  requests: number;
  ok: number;
  /** Answered 200 by the fallback model (a subset of `ok`). */
  fallback: number;
  failedFast: number;
  rejected: number;
  failed: number;
  lost: number;
  /** Answers by HTTP status, and `timeout` / `no-answer` for the lost ones. */
  readonly byStatus: Record<string, number>;
  /** Latency of each answered request, by outcome (a few hundred samples at most). */
  readonly latencies: Record<Outcome, number[]>;
}

export function emptyTally(): Tally {
  return {
    requests: 0,
    ok: 0,
    fallback: 0,
    failedFast: 0,
    rejected: 0,
    failed: 0,
    lost: 0,
    byStatus: {},
    latencies: { ok: [], failedFast: [], rejected: [], failed: [], lost: [] },
  };
}

export interface TrafficOptions {
  /** The pods to call now; read before every request (kept fresh by the caller). */
  readonly pods: () => readonly AgentPod[];
  readonly requestsPerSecond: number;
  /** A request still unanswered after this long is abandoned and counted as lost. */
  readonly timeoutMs: number;
  /** A 503/504 answered within this long counts as failed fast. */
  readonly fastMs: number;
}

export interface RequestResult {
  readonly outcome: Outcome;
  readonly status: string;
  readonly ms: number;
  readonly fallback: boolean;
}

/** Classifies one exchange; `status` undefined means no HTTP answer arrived. */
export function classify(status: number | undefined, ms: number, fastMs: number): Outcome {
  if (status === undefined) return 'lost';
  if (status >= 200 && status < 300) return 'ok';
  if (status === 429) return 'rejected';
  if ((status === 503 || status === 504) && ms <= fastMs) return 'failedFast';
  return 'failed';
}

export class Traffic {
  readonly #options: TrafficOptions;
  readonly total = emptyTally();
  #phase = emptyTally();
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #sequence = 0;
  #cursor = 0;
  #skipped = 0;

  constructor(options: TrafficOptions) {
    this.#options = options;
  }

  /** Requests waiting for an answer right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Ticks when no pod was ready to take a request (nothing was sent). */
  get skipped(): number {
    return this.#skipped;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.#send();
    }, 1000 / this.#options.requestsPerSecond);
  }

  /** Starts counting a new phase; returns the counts of the one that ended. */
  nextPhase(): Tally {
    const ended = this.#phase;
    this.#phase = emptyTally();
    return ended;
  }

  get phase(): Tally {
    return this.#phase;
  }

  /** Stops sending and waits for every request in flight to end (each has its timeout). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #send(): void {
    const ready = this.#options.pods().filter((p) => p.ready && p.url !== undefined);
    const pod = ready[this.#cursor++ % Math.max(ready.length, 1)];
    if (pod?.url === undefined) {
      this.#skipped++;
      return;
    }
    const n = ++this.#sequence;
    const phase = this.#phase;
    const request = callAgent(pod.url, n, this.#options).then((result) => {
      for (const tally of [this.total, phase]) record(tally, result);
    });
    const tracked = request.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}

function record(tally: Tally, result: RequestResult): void {
  tally.requests++;
  tally[result.outcome]++;
  if (result.fallback) tally.fallback++;
  tally.byStatus[result.status] = (tally.byStatus[result.status] ?? 0) + 1;
  tally.latencies[result.outcome].push(result.ms);
}

async function callAgent(base: string, n: number, options: TrafficOptions): Promise<RequestResult> {
  const direct = n % DIRECT_EVERY === 0;
  const [path, body] = direct
    ? [
        '/v1/messages',
        {
          model: FALLBACK_MODEL,
          max_tokens: 32,
          messages: [{ role: 'user', content: `demo request ${n}` }],
        },
      ]
    : ['/v1/agent/invoke', { input: `demo request ${n}`, sessionId: 'breakwater-demo' }];
  const started = performance.now();
  const signal = AbortSignal.timeout(options.timeoutMs);
  let status: number | undefined;
  let text = '';
  try {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    // The answer counts once all of it has arrived, within the same timeout.
    text = await response.text();
    status = response.status;
  } catch (err) {
    const ms = performance.now() - started;
    const timedOut = signal.aborted || (err instanceof Error && err.name === 'TimeoutError');
    return { outcome: 'lost', status: timedOut ? 'timeout' : 'no-answer', ms, fallback: false };
  }
  const ms = performance.now() - started;
  return {
    outcome: classify(status, ms, options.fastMs),
    status: String(status),
    ms,
    fallback: !direct && status === 200 && usedFallback(text),
  };
}

function usedFallback(text: string): boolean {
  try {
    return (JSON.parse(text) as { fallbackUsed?: unknown }).fallbackUsed === true;
  } catch {
    return false;
  }
}
