/**
 * The `/debug/runs` document each runtime with durability serves on its metrics port (alone:
 * it lists every caller's runs, and the API port is the callers'): the runs its agent's journal
 * holds, newest first. The
 * runtime reads them from the store, so every replica lists the same runs; `kubectl breakwater
 * runs` reads one replica through the API server's pod proxy.
 *
 * Nothing of a prompt, an answer or a tool's result is in it: a step is its kind and whether it
 * completed. A run started with a client key other than the agent's own pod keys is shown by a
 * fingerprint of its id (`fp:` and the first 12 hex digits of its SHA-256), never its id.
 */
export const DEBUG_RUNS_PATH = '/debug/runs';

/** What `/debug/runs` answers while the agent has no `spec.durability`. */
export const DURABILITY_OFF = 'durable runs are off for this agent (spec.durability is not set)';

/**
 * running: a call came within the last five minutes and the run is at its journal's end;
 * replaying: a call came lately and a resumed attempt is still inside the journal;
 * idle: no call for five minutes (finished, or waiting to be started again).
 */
export type ListedRunState = 'running' | 'replaying' | 'idle';

/** m a model call, t a tool call; a trailing ? a call started and not completed. */
export type StepCode = 'm' | 't' | 'm?' | 't?';

export interface ListedRun {
  /** The run id, or `fp:<12 hex>` for a run of another client key. */
  readonly run: string;
  /** `pods`: the agent's own pods' keys (a team's own agent); `client-key`: another key. */
  readonly owner: 'pods' | 'client-key';
  readonly state: ListedRunState;
  /** Steps in the journal. */
  readonly steps: number;
  /** The first steps, in order (at most MAX_LISTED_STEPS). */
  readonly stepCodes: readonly StepCode[];
  /** The step the current attempt expects next (0-based): below `steps` while replaying. */
  readonly cursor: number;
  /** Calls of the run answered from its journal, by any replica. */
  readonly replayed: number;
  /** Attempts that resumed the run from its journal. */
  readonly resumed: number;
  /** Times the run diverged from its journal. */
  readonly diverged: number;
  /** When its last step was claimed or written (RFC 3339). */
  readonly lastStep: string;
}

export interface RunsDocument {
  /** Newest first, at most `limit`. */
  readonly runs: readonly ListedRun[];
  /** Runs found in the journal (more than `runs` holds when the listing was cut). */
  readonly found: number;
  /** The scan stopped at MAX_SCANNED_RUNS: older runs may be missing. */
  readonly truncated: boolean;
  /** How long a run's journal is kept after its last step, in seconds. */
  readonly retentionSeconds: number;
}

export const MAX_LISTED_STEPS = 200;
