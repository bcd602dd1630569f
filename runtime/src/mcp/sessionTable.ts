/**
 * The MCP sessions a replica holds, at most `capacity`, each its opener's. When the table is
 * full, a new session takes the place of the oldest session of the caller holding the most: a
 * caller that opens sessions without end only ever closes its own, never another caller's
 * (a table evicting the oldest session of all let one key close every other key's sessions by
 * opening 1,000 of its own). Callers are told apart by their identity's `binding`; on an agent
 * without client keys every caller is one, and the oldest session of all goes, as before.
 */
export interface HeldSession {
  readonly id: string;
  /** Who opened it (access/callerIdentity.ts `binding`). */
  readonly owner: string;
}

export class SessionTable<S extends HeldSession> {
  readonly #capacity: number;
  readonly #byId = new Map<string, S>();
  /** Each caller's session ids, oldest first (a Set keeps insertion order). */
  readonly #byOwner = new Map<string, Set<string>>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): S | undefined {
    return this.#byId.get(id);
  }

  values(): IterableIterator<S> {
    return this.#byId.values();
  }

  /** Holds `session`; returns the session it displaced to make room, for the caller to close. */
  add(session: S): S | undefined {
    const displaced = this.#byId.size >= this.#capacity ? this.#displace() : undefined;
    this.#byId.set(session.id, session);
    const own = this.#byOwner.get(session.owner);
    if (own === undefined) this.#byOwner.set(session.owner, new Set([session.id]));
    else own.add(session.id);
    return displaced;
  }

  delete(id: string): void {
    const session = this.#byId.get(id);
    if (session === undefined) return;
    this.#byId.delete(id);
    const own = this.#byOwner.get(session.owner);
    own?.delete(id);
    if (own?.size === 0) this.#byOwner.delete(session.owner);
  }

  /** Empties the table, answering what it held. */
  clear(): S[] {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    this.#byOwner.clear();
    return all;
  }

  /** Removes the oldest session of the caller that holds the most (the first such caller). */
  #displace(): S | undefined {
    let most: Set<string> | undefined;
    for (const own of this.#byOwner.values())
      if (most === undefined || own.size > most.size) most = own;
    const [oldest] = most ?? [];
    if (oldest === undefined) return undefined;
    const session = this.#byId.get(oldest);
    this.delete(oldest);
    return session;
  }
}
