/**
 * One model call's move from backend to backend: the guard asks it for the next target when a
 * retry should go elsewhere, and it asks the load balancer for a backend the call has not tried.
 * It stands apart from guardSet.ts because it is the call's own state (the backend serving now,
 * the ones tried), not the set's; one object per call, its method on the prototype, in place
 * of a literal and a closure.
 */
import type { Failover, Guard } from '../guard.ts';
import type { BackendPicker, NamedBackend } from './providerGuard.ts';

/** The guard of `backend` × `model`, created on first use (GuardSet's, bound once). */
export type ModelGuardOf = (backend: string, model: string) => Guard;

export class BackendFailover<B extends NamedBackend> implements Failover {
  /** The backend the call's attempts go to now: the first picked, then each one moved to. */
  backend: B;
  readonly #model: string;
  readonly #pick: BackendPicker<B>;
  readonly #guardOf: ModelGuardOf;
  #tried: Set<string> | undefined;

  constructor(first: B, model: string, pick: BackendPicker<B>, guardOf: ModelGuardOf) {
    this.backend = first;
    this.#model = model;
    this.#pick = pick;
    this.#guardOf = guardOf;
  }

  next(): Guard | undefined {
    const tried = (this.#tried ??= new Set());
    tried.add(this.backend.name);
    const next = this.#pick(tried);
    if (next === undefined) return undefined;
    this.backend = next;
    return this.#guardOf(next.name, this.#model);
  }
}
