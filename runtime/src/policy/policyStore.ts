/**
 * Holds the policy in force. Sources (a file, manifests, the ConfigMap watch) offer candidate
 * documents; a valid one is swapped in and announced to listeners, an invalid one is logged,
 * counted and remembered for `/debug/policy` while the last good policy stays in force.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import {
  checkPolicyDocument,
  parsePolicyDocument,
  type ParsedPolicy,
} from '../../../contract/src/policy/policyValidation.ts';

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
export type OfferResult = (typeof OFFER_RESULTS)[number];

export interface PolicyListener {
  (next: AppliedPolicy, previous: AppliedPolicy | undefined): void;
}

export interface PolicyStoreEvents {
  /** Called for every offer, for the reloads metric and the log. */
  onOffer?(result: OfferResult, source: string, detail: string): void;
}

export class PolicyStore {
  readonly #clock: Clock;
  readonly #events: PolicyStoreEvents;
  readonly #listeners = new Set<PolicyListener>();
  #current: AppliedPolicy | undefined;
  #lastRejection: PolicyRejection | undefined;
  #applied = 0;
  #rejected = 0;

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
    return this.#offer({ ok: false, error }, source);
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
      this.#rejected++;
      this.#lastRejection = { error: parsed.error, source, at: this.#clock.now() };
      this.#events.onOffer?.('rejected', source, parsed.error);
      return 'rejected';
    }
    const previous = this.#current;
    if (previous?.hash === parsed.hash) {
      this.#events.onOffer?.('unchanged', source, parsed.hash);
      return 'unchanged';
    }
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
      const error = `could not apply: ${err instanceof Error ? err.message : String(err)}`;
      this.#rejected++;
      this.#lastRejection = { error, source, at: this.#clock.now() };
      this.#events.onOffer?.('rejected', source, error);
      return 'rejected';
    }
    this.#applied++;
    this.#events.onOffer?.('applied', source, parsed.hash);
    return 'applied';
  }
}
