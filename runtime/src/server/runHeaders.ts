/**
 * The headers that name a durable run (durable/durableRuns.ts): `Breakwater-Run-Id`, and
 * `Breakwater-Run-Attempt`, the attempt a call belongs to (one value per start of the agent),
 * required with it. Read the same on `/v1/messages` and `/mcp/<name>`; a name that cannot be
 * one, or an id without its attempt, is refused naming the header.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CallerIdentity } from '../access/callerIdentity.ts';
import type { NamedRun, RunAttempt, RunName } from '../durable/durableRuns.ts';

export const RUN_ID_HEADER = 'breakwater-run-id';
export const RUN_ATTEMPT_HEADER = 'breakwater-run-attempt';

const HEADER_OF: Readonly<Record<keyof RunName, string>> = {
  id: 'Breakwater-Run-Id',
  attempt: 'Breakwater-Run-Attempt',
};

/** The run a request names, or why its headers cannot name one (a 400's message). */
export type RunHeader =
  | { readonly ok: true; readonly run: RunAttempt }
  | { readonly ok: false; readonly message: string };

/** Whatever resolves a run's name for a caller: the journal (DurableRuns), or its tool side. */
export interface RunNames {
  runOf(name: RunName, caller: CallerIdentity): NamedRun | undefined;
}

/** The run `headers` name, as `caller`'s (undefined: none, or durability off). */
export function runNamedBy(
  runs: RunNames,
  headers: IncomingHttpHeaders,
  caller: CallerIdentity,
): RunHeader | undefined {
  const id = headers[RUN_ID_HEADER];
  if (id === undefined) return undefined;
  const named = runs.runOf({ id, attempt: headers[RUN_ATTEMPT_HEADER] }, caller);
  if (named === undefined || named.ok) return named;
  return { ok: false, message: `header ${HEADER_OF[named.name]} ${named.problem}` };
}
