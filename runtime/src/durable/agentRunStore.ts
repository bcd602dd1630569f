/**
 * What a run the runtime owns keeps beside its journal: one key, `<prefix>:{<run>}:agent`,
 * sealed like the journal's steps (the request and the result hold prompt and answer text),
 * expiring `retention` after its last write. The owner, the fingerprint for audit and
 * budgets, the request, the state and, once done, the result or the error.
 */
import type { JournalStore } from './durableRuns.ts';
import { runKeys } from './runJournal.ts';

export type AgentRunState = 'running' | 'completed' | 'failed';

/** The body of `/v1/agent/invoke` a run was started with. */
export interface AgentRunRequest {
  readonly input: string;
  readonly sessionId?: string;
  readonly history: readonly unknown[];
}

/** A failed run's error, in the Anthropic shape it was answered with. */
export interface AgentRunError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

export interface AgentRunRecord {
  readonly state: AgentRunState;
  /** An HMAC of the client key that started it (durableRuns.ts), never the key. */
  readonly owner: string;
  /** The audit trail's fingerprint of that key (budgets per key count it). */
  readonly client: string | undefined;
  readonly request: AgentRunRequest;
  readonly startedAt: number;
  /**
   * The W3C `traceparent` of the request that started it: every execution of the run, one
   * after a take-over too, is a span of that trace.
   */
  readonly traceparent?: string;
  /**
   * For a run named by an `Idempotency-Key`: the SHA-256 of the canonical JSON of the body it
   * was started with, so the key reused with another body is refused (agentRunsRoute.ts).
   */
  readonly bodyDigest?: string;
  readonly finishedAt?: number;
  /** A completed run's answer: `/v1/agent/invoke`'s JSON. */
  readonly result?: unknown;
  readonly error?: AgentRunError;
}

export function agentRunKey(prefix: string, run: string): string {
  return `${prefix}:{${run}}:agent`;
}

export class AgentRunStore {
  readonly #store: JournalStore;

  constructor(store: JournalStore) {
    this.#store = store;
  }

  /** Writes a new run's record; false when the run already has one. */
  async create(run: string, record: AgentRunRecord): Promise<boolean> {
    const reply = await this.#store.deadline(
      this.#store.client.set(agentRunKey(this.#store.prefix, run), this.#seal(run, record), {
        NX: true,
        PX: this.#store.retentionMs,
      }),
    );
    return reply === 'OK';
  }

  async write(run: string, record: AgentRunRecord): Promise<void> {
    await this.#store.deadline(
      this.#store.client.set(agentRunKey(this.#store.prefix, run), this.#seal(run, record), {
        PX: this.#store.retentionMs,
      }),
    );
  }

  /** The run's record; undefined when it has none, it expired or it cannot be opened. */
  async read(run: string): Promise<AgentRunRecord | undefined> {
    const sealed = await this.#store.deadline(
      this.#store.client.get(agentRunKey(this.#store.prefix, run)),
    );
    if (sealed === null) return undefined;
    try {
      const plain = this.#store.cipher.open(Buffer.from(sealed, 'base64'), `${run}|agent`);
      return JSON.parse(plain.toString('utf8')) as AgentRunRecord;
    } catch {
      return undefined;
    }
  }

  /** The steps its journal holds so far. */
  async steps(run: string): Promise<number> {
    const [log] = runKeys(this.#store.prefix, run);
    return log === undefined ? 0 : this.#store.deadline(this.#store.client.lLen(log));
  }

  #seal(run: string, record: AgentRunRecord): string {
    return this.#store.cipher
      .seal(Buffer.from(JSON.stringify(record)), `${run}|agent`)
      .toString('base64');
  }
}
