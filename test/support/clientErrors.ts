/**
 * What a client's failed call ended with, for the tests that run real clients (test/clients/ on
 * this machine, test/inCluster/clientModes.test.ts in the cluster).
 */
import { APICallError, RetryError } from 'ai';

/** The error `call` rejected with; a call that succeeds fails the test. */
export async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: unknown) => e,
  );
}

/** The Vercel AI SDK's last HTTP error, inside the RetryError it wraps retried calls in. */
export function apiCallError(error: unknown): APICallError {
  const last = RetryError.isInstance(error) ? error.lastError : error;
  if (!APICallError.isInstance(last))
    throw new Error(`expected an APICallError, got ${String(last)}`);
  return last;
}
