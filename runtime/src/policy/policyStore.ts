/**
 * Holds the policy in force. Sources (a file, manifests, the ConfigMap watch) offer candidate
 * documents; a valid one is swapped in and announced to listeners, an invalid one is logged,
 * counted and remembered for `/debug/policy` while the last good policy stays in force.
 *
 * A document that needs modules not loaded yet (a store's client, a cloud's credentials, the
 * MCP SDK: `loadModules`) is swapped in once they are, the last good policy serving meanwhile
 * (its offer answers `loading`; `settled()` waits for it); a later offer that arrives first wins.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import {
  checkPolicyDocument,
  parsePolicyDocument,
  type ParsedPolicy,
} from '../../../contract/src/policy/policyValidation.ts';
import { errorMessage } from '../../../platform/src/node/errorMessage.ts';

export interface AppliedPolicy {
  readonly doc: PolicyDocument;
  readonly hash: string;
  /** Where it came from, e.g. `file:/etc/policy.json` or `configmap:ns/agent-policy`. */
  readonly source: string;
  readonly appliedAt: number;
}

export interface PolicyRejection {
  readonly error: string;
  readonly source: string;
  readonly at: number;
}

export const OFFER_RESULTS = ['applied', 'unchanged', 'rejected'] as const;
/**
 * What became of an offer. `loading`: valid, and swapped in once its modules are loaded, unless
 * a later offer comes first (counted then as that one's result says).
 */
export type OfferResult = (typeof OFFER_RESULTS)[number] | 'loading';

export interface PolicyListener {
  (next: AppliedPolicy, previous: AppliedPolicy | undefined): void;
}

export interface PolicyStoreEvents {
  /** Called for every offer, for the reloads metric and the log. */
  onOffer?(result: (typeof OFFER_RESULTS)[number], source: string, detail: string): void;
  /**
   * Loads what `doc` needs that is not loaded yet; undefined when nothing is missing (the
   * document is swapped in at once).
   */
  loadModules?(doc: PolicyDocument): Promise<void> | undefined;
}

export class PolicyStore {
  readonly #clock: Clock;
  readonly #events: PolicyStoreEvents;
  readonly #listeners = new Set<PolicyListener>();
  #current: AppliedPolicy | undefined;
  #lastRejection: PolicyRejection | undefined;
  #applied = 0;
  #rejected = 0;
  /** Valid offers so far: one that waited for modules is swapped in only if still the last. */
  #offers = 0;
  /** The offer waiting for its modules, until it is swapped in or dropped. */
  #loading: Promise<void> | undefined;

  constructor(clock: Clock, events: PolicyStoreEvents = {}) {
    this.#clock = clock;
    this.#events = events;
  }

  get current(): AppliedPolicy | undefined {
    return this.#current;
  }

  get lastRejection(): PolicyRejection | undefined {
    return this.#lastRejection;
  }

  /** Registers a listener; returns a function that removes it. */
  onChange(listener: PolicyListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Offers policy.json text (from a file or a ConfigMap). */
  offerText(text: string, source: string): OfferResult {
    return this.#offer(parsePolicyDocument(text), source);
  }

  /** Offers an already-built document (from the manifests resolver). */
  offerDocument(doc: unknown, source: string): OfferResult {
    return this.#offer(checkPolicyDocument(doc), source);
  }

  /** Records a source's failure to produce a document at all (unreadable file, bad YAML). */
  reject(error: string, source: string): OfferResult {
    this.#refuse(error, source);
    return 'rejected';
  }

  /** Resolves once no offer waits for its modules (at once when none does). */
  async settled(): Promise<void> {
    while (this.#loading !== undefined) await this.#loading;
  }

  status(): Readonly<Record<string, unknown>> {
    const current = this.#current;
    return {
      loaded: current !== undefined,
      hash: current?.hash,
      source: current?.source,
      appliedAt: current === undefined ? undefined : new Date(current.appliedAt).toISOString(),
      applied: this.#applied,
      rejected: this.#rejected,
      lastError:
        this.#lastRejection === undefined
          ? undefined
          : {
              error: this.#lastRejection.error,
              source: this.#lastRejection.source,
              at: new Date(this.#lastRejection.at).toISOString(),
            },
    };
  }

  #offer(parsed: ParsedPolicy, source: string): OfferResult {
    if (!parsed.ok) {
      this.#refuse(parsed.error, source);
      return 'rejected';
    }
    const offer = ++this.#offers;
    const previous = this.#current;
    if (previous?.hash === parsed.hash) {
      this.#events.onOffer?.('unchanged', source, parsed.hash);
      return 'unchanged';
    }
    const loading = this.#events.loadModules?.(parsed.doc);
    if (loading === undefined) return this.#swap(parsed, source);
    const done = loading.then(
      () => {
        if (offer !== this.#offers) return;
        try {
          this.#swap(parsed, source);
        } catch (err) {
          // The first policy failed to apply: no good one to go back to, nothing serves.
          this.#refuse(`could not apply: ${errorMessage(err)}`, source);
        }
      },
      (err: unknown) => {
        if (offer === this.#offers)
          this.#refuse(`could not load what it needs: ${errorMessage(err)}`, source);
      },
    );
    const waiting: Promise<void> = done.finally(() => {
      if (this.#loading === waiting) this.#loading = undefined;
    });
    this.#loading = waiting;
    return 'loading';
  }

  #refuse(error: string, source: string): void {
    this.#rejected++;
    this.#lastRejection = { error, source, at: this.#clock.now() };
    this.#events.onOffer?.('rejected', source, error);
  }

  #swap(parsed: Extract<ParsedPolicy, { ok: true }>, source: string): OfferResult {
    const previous = this.#current;
    const next: AppliedPolicy = {
      doc: parsed.doc,
      hash: parsed.hash,
      source,
      appliedAt: this.#clock.now(),
    };
    this.#current = next;
    try {
      for (const listener of this.#listeners) listener(next, previous);
    } catch (err) {
      // A document the checks passed and a component still could not take: a gap in the
      // checks, never a reason to stop serving. The last good policy goes back in force.
      this.#current = previous;
      if (previous === undefined) throw err;
      for (const listener of this.#listeners) listener(previous, next);
      this.#refuse(`could not apply: ${errorMessage(err)}`, source);
      return 'rejected';
    }
    this.#applied++;
    this.#events.onOffer?.('applied', source, parsed.hash);
    return 'applied';
  }
}
