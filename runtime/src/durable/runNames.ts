/**
 * How a call names a durable run (`Breakwater-Run-Id`, `Breakwater-Run-Attempt`;
 * server/runHeaders.ts reads them) and whose the run is: the checks on the names, and the owner
 * each caller's key makes under the journal key (owner.lua compares it).
 */
import type { CallerIdentity } from '../access/callerIdentity.ts';
import type { JournalCipher } from './journalCipher.ts';

const RUN_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const RUN_ID_RULE = 'must be 1 to 128 letters, digits or . _ : -';
const ATTEMPT_MISSING =
  'is missing: send Breakwater-Run-Attempt with Breakwater-Run-Id: a new value, e.g. a UUID, at each start of your agent, the same for every call of that start';
/** Client keys whose owner and fingerprint are kept: a runtime's callers are a handful. */
const MAX_KNOWN_CALLERS = 256;

/** A run: its id and who may use it. */
export interface RunRef {
  readonly id: string;
  /** An HMAC of the client key (or `pods` for the agent's own pod keys): never the key. */
  readonly owner: string;
  /** The audit trail's fingerprint of the key. */
  readonly client: string | undefined;
}

/**
 * A run as one call names it: the run, and the attempt the call belongs to (one value per start
 * of the agent, or per execution of a run the runtime owns). Its calls are matched with the
 * journal by their place in the attempt, never by what they resemble.
 */
export interface RunAttempt extends RunRef {
  readonly attempt: string;
}

/**
 * A run as a call names it, before it is checked: its id and the attempt the call belongs to
 * (one value per start of the agent, runJournal.ts), as given (server/runHeaders.ts reads them
 * from `Breakwater-Run-Id` and `Breakwater-Run-Attempt`). A call without its attempt is refused:
 * the journal cannot tell an agent that started again from one that repeats a call.
 */
export interface RunName {
  readonly id: string | readonly string[];
  readonly attempt?: string | readonly string[] | undefined;
}

/** The run a call named, or which of its names cannot be one, and why. */
export type NamedRun =
  | { readonly ok: true; readonly run: RunAttempt }
  | { readonly ok: false; readonly name: keyof RunName; readonly problem: string };

/** A run's name checked: its id and attempt, or which of them cannot be one, and why. */
export function parseRunName(
  name: RunName,
):
  | { readonly ok: true; readonly id: string; readonly attempt: string }
  | Extract<NamedRun, { ok: false }> {
  const { id, attempt } = name;
  if (typeof id !== 'string' || !RUN_ID.test(id))
    return { ok: false, name: 'id', problem: `${RUN_ID_RULE}, got ${JSON.stringify(id)}` };
  if (attempt === undefined) return { ok: false, name: 'attempt', problem: ATTEMPT_MISSING };
  if (typeof attempt !== 'string' || !RUN_ID.test(attempt))
    return {
      ok: false,
      name: 'attempt',
      problem: `${RUN_ID_RULE}, got ${JSON.stringify(attempt)}`,
    };
  return { ok: true, id, attempt };
}

/**
 * A run's owner and the audit fingerprint of each caller, under the journal key's cipher: the
 * owner's HMAC made once per caller, not on every call.
 */
export class RunCallers {
  #cipher: JournalCipher | undefined;
  #known = new Map<string, Pick<RunRef, 'owner' | 'client'>>();

  of(cipher: JournalCipher, caller: CallerIdentity): Pick<RunRef, 'owner' | 'client'> {
    if (this.#cipher !== cipher || this.#known.size >= MAX_KNOWN_CALLERS) {
      this.#cipher = cipher;
      this.#known = new Map();
    }
    let known = this.#known.get(caller.binding);
    if (known === undefined) {
      known = { owner: ownerOf(cipher, caller), client: caller.fingerprint };
      this.#known.set(caller.binding, known);
    }
    return known;
  }
}

/**
 * `<key id>:<client>` (owner.lua): whose a run is, under which journal key. Open callers (access
 * control off) are one owner, as callers without a key always were.
 */
export function ownerOf(cipher: JournalCipher, caller: CallerIdentity): string {
  if (caller.kind === 'pod') return `${cipher.keyId}:pods`;
  const key = caller.kind === 'clientKey' ? caller.key : '';
  return `${cipher.keyId}:${cipher.match(`client key ${key}`)}`;
}
