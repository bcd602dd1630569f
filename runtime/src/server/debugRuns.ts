/**
 * `/debug/runs`: the runs this agent's journal holds (durable/runListing.ts), newest first,
 * `?limit=` of them (default 20, at most 200). Refused with a DebugUnavailable while the agent
 * has no durability (404), the query is wrong (400) or the journal's store does not answer (503), each with what to do.
 */
import { DURABILITY_OFF, type RunsDocument } from '../../../contract/src/reporting/runsListing.ts';
import type { AnthropicErrorType } from '../../../contract/src/anthropic/errorTypes.ts';
import type { DurableRuns } from '../durable/durableRuns.ts';
import { DEFAULT_LISTED_RUNS, MAX_LISTED_RUNS } from '../durable/runListing.ts';
import { messageOf } from '../rateLimitStore/storeConnection.ts';

/** A `/debug` document that cannot be given now, with the status and what to do. */
export class DebugUnavailable extends Error {
  readonly code = 'DEBUG_UNAVAILABLE';
  readonly status: 400 | 404 | 503;
  readonly type: AnthropicErrorType;

  constructor(status: 400 | 404 | 503, message: string) {
    super(message);
    this.name = 'DebugUnavailable';
    this.status = status;
    this.type =
      status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error';
  }
}

export function isDebugUnavailable(err: unknown): err is DebugUnavailable {
  return err instanceof DebugUnavailable;
}

/** `?limit=` as a count of runs; a bad one is refused naming the allowed range. */
export function listLimit(query: URLSearchParams): number {
  const text = query.get('limit');
  if (text === null || text === '') return DEFAULT_LISTED_RUNS;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LISTED_RUNS)
    throw new DebugUnavailable(
      400,
      `limit must be a whole number from 1 to ${String(MAX_LISTED_RUNS)}, got ${JSON.stringify(text)}`,
    );
  return limit;
}

export async function runsDocument(
  durable: DurableRuns,
  query: URLSearchParams,
): Promise<RunsDocument> {
  const limit = listLimit(query);
  let document: RunsDocument | undefined;
  try {
    document = await durable.list(limit);
  } catch (err) {
    throw new DebugUnavailable(
      503,
      `the journal store does not answer (${messageOf(err)}): runs cannot be listed; see the agent's DurabilityStoreAvailable condition`,
    );
  }
  const unreadable = durable.unreadable;
  if (document === undefined && unreadable !== undefined)
    throw new DebugUnavailable(503, keyUnreadable(unreadable));
  if (document === undefined) throw new DebugUnavailable(404, DURABILITY_OFF);
  return document;
}

/** What a caller is told while spec.durability is set and its key or Secret cannot be read. */
export function keyUnreadable(why: string): string {
  return `durable runs are off: spec.durability is set, but its key or the store's Secret cannot be read (${why}); see the agent's DurabilityStoreAvailable condition (KeyUnreadable)`;
}
