/**
 * A journal that refused a run's call (agentJournal.ts throws it into the agent's loop): the
 * run is another key's, or the call's attempt was superseded by a newer execution (a takeover),
 * which then records the run's end, not this one (ownedRuns.ts).
 */
export class RunRefusedError extends Error {
  /** The run went on as a newer attempt (taken over): this execution is a stale one. */
  readonly superseded: boolean;

  constructor(message: string, superseded = false) {
    super(message);
    this.name = 'RunRefusedError';
    this.superseded = superseded;
  }
}

export function isSuperseded(err: unknown): boolean {
  return err instanceof RunRefusedError && err.superseded;
}
